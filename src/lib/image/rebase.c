/*
 * kiln rebase: the config of an image moved from an old base to a new one.
 *
 * The image's container config holds what it inherited from the old base and
 * what it set itself. A setting whose value is the old base's was inherited:
 * it takes the new base's value (or goes, when the new base has none). Any
 * other value is the image's own and stays. Env, Labels, ExposedPorts and
 * Volumes are decided entry by entry (a variable by its name); a setting the
 * image dropped from the old base's stays dropped. The history is the new
 * base's, then the image's entries after the old base's.
 */
#include <jansson.h>
#include <string.h>

#include "rebase.h"

/* The Env entry named like kv ("KEY=..."), or NULL. */
static json_t *env_find(json_t *env, const char *kv, const char **value)
{
    size_t klen = strcspn(kv, "=");
    size_t i;
    json_t *v;
    json_array_foreach(env, i, v)
    {
        const char *s = json_string_value(v);
        if (s && strlen(s) >= klen && !strncmp(s, kv, klen) && (s[klen] == '=' || !s[klen])) {
            if (value)
                *value = s;
            return v;
        }
    }
    return NULL;
}

/* Whether the image's value came from the old base (or the image dropped an
 * old one: `gone`). */
enum origin { OWN, INHERITED, DROPPED, ABSENT };
static enum origin origin_of(json_t *img, json_t *old)
{
    if (!img)
        return old ? DROPPED : ABSENT;
    return old && json_equal(img, old) ? INHERITED : OWN;
}

static json_t *merge_env(json_t *img, json_t *old, json_t *nw)
{
    json_t *out = json_array();
    size_t i;
    json_t *v;
    /* the new base's variables, in its order, unless the image set or dropped them */
    json_array_foreach(nw, i, v)
    {
        const char *s = json_string_value(v), *iv = NULL, *ov = NULL;
        if (!s)
            continue;
        json_t *ie = env_find(img, s, &iv), *oe = env_find(old, s, &ov);
        enum origin o = origin_of(ie, oe);
        if (o == OWN)
            json_array_append(out, ie);
        else if (o != DROPPED)
            json_array_append(out, v);
    }
    /* then the image's own variables that the new base does not have */
    json_array_foreach(img, i, v)
    {
        const char *s = json_string_value(v);
        if (!s || env_find(nw, s, NULL))
            continue;
        if (origin_of(v, env_find(old, s, NULL)) == OWN)
            json_array_append(out, v);
    }
    return out;
}

static json_t *merge_object(json_t *img, json_t *old, json_t *nw)
{
    json_t *out = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(nw, k, v)
    {
        enum origin o = origin_of(json_object_get(img, k), json_object_get(old, k));
        if (o == OWN)
            json_object_set(out, k, json_object_get(img, k));
        else if (o != DROPPED)
            json_object_set(out, k, v);
    }
    json_object_foreach(img, k, v)
    {
        if (json_object_get(nw, k))
            continue;
        if (origin_of(v, json_object_get(old, k)) == OWN)
            json_object_set(out, k, v);
    }
    return out;
}

static bool per_entry(const char *key, const char **how)
{
    if (!strcmp(key, "Env")) {
        *how = "array";
        return true;
    }
    if (!strcmp(key, "Labels") || !strcmp(key, "ExposedPorts") || !strcmp(key, "Volumes")) {
        *how = "object";
        return true;
    }
    return false;
}

static json_t *merge_config(json_t *img, json_t *old, json_t *nw)
{
    json_t *out = json_object();
    const char *k, *how;
    json_t *v;
    /* every key any of the three has */
    json_t *keys = json_object();
    json_object_foreach(img, k, v) json_object_set_new(keys, k, json_true());
    json_object_foreach(old, k, v) json_object_set_new(keys, k, json_true());
    json_object_foreach(nw, k, v) json_object_set_new(keys, k, json_true());
    json_object_foreach(keys, k, v)
    {
        json_t *iv = json_object_get(img, k), *ov = json_object_get(old, k),
               *nv = json_object_get(nw, k), *r = NULL;
        if (per_entry(k, &how) && (iv || nv)) {
            bool arr = !strcmp(how, "array");
            json_t *e = arr ? json_array() : json_object();
            if ((arr && (json_is_array(iv) || !iv) && (json_is_array(nv) || !nv)) ||
                (!arr && (json_is_object(iv) || !iv) && (json_is_object(nv) || !nv))) {
                json_t *ii = iv ? iv : e, *oo = ov ? ov : e, *nn = nv ? nv : e;
                r = arr ? merge_env(ii, oo, nn) : merge_object(ii, oo, nn);
            }
            json_decref(e);
            if (r && (arr ? json_array_size(r) : json_object_size(r)))
                json_object_set_new(out, k, r);
            else
                json_decref(r);
            if (r)
                continue;
        }
        enum origin o = origin_of(iv, ov);
        if (o == OWN)
            json_object_set(out, k, iv);
        else if (o != DROPPED && nv)
            json_object_set(out, k, nv);
    }
    json_decref(keys);
    return out;
}

int kiln_rebase_config(const char *image, const char *old_base, const char *new_base, char **out,
                       struct kiln_error *err)
{
    json_error_t je;
    json_t *img = json_loads(image, 0, &je), *old = json_loads(old_base, 0, &je),
           *nw = json_loads(new_base, 0, &je);
    int rc = 0;
    if (!json_is_object(img) || !json_is_object(old) || !json_is_object(nw))
        rc = kiln_fail(err, KILN_ERR_FORMAT, "rebase: %s config is not a JSON object",
                       !json_is_object(img)   ? "the image's"
                       : !json_is_object(old) ? "the old base's"
                                              : "the new base's");
    if (rc == 0) {
        json_t *ic = json_object_get(img, "config"), *oc = json_object_get(old, "config"),
               *nc = json_object_get(nw, "config"), *e = json_object();
        json_t *merged = merge_config(json_is_object(ic) ? ic : e, json_is_object(oc) ? oc : e,
                                      json_is_object(nc) ? nc : e);
        json_decref(e);
        json_object_set_new(img, "config", merged);
        json_object_del(img, "container_config");
        /* history: the new base's, then the image's own (after the old base's) */
        json_t *h = json_array(), *ih = json_object_get(img, "history"),
               *oh = json_object_get(old, "history"), *nh = json_object_get(nw, "history");
        if (json_is_array(nh))
            json_array_extend(h, nh);
        size_t skip = json_is_array(oh) ? json_array_size(oh) : 0;
        for (size_t i = skip; json_is_array(ih) && i < json_array_size(ih); i++)
            json_array_append(h, json_array_get(ih, i));
        json_object_set_new(img, "history", h);
        if (!(*out = json_dumps(img, JSON_COMPACT | JSON_SORT_KEYS)))
            rc = kiln_oom(err);
    }
    json_decref(img);
    json_decref(old);
    json_decref(nw);
    return rc;
}
