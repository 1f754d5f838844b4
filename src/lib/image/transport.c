/* Transport specs: the one parser of "oci:…", "oci-archive:…",
 * "docker-archive:…" and "docker://…" (transport.h states the rules). */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "transport.h"

static const struct {
    const char *prefix;
    enum kiln_transport kind;
} prefixes[] = {
    { "oci:", KILN_TRANSPORT_OCI },
    { "oci-archive:", KILN_TRANSPORT_OCI_ARCHIVE },
    { "docker-archive:", KILN_TRANSPORT_DOCKER_ARCHIVE },
    { "docker://", KILN_TRANSPORT_DOCKER },
};

const char *kiln_transport_prefix(enum kiln_transport t)
{
    for (size_t i = 0; i < ARRAY_SIZE(prefixes); i++)
        if (prefixes[i].kind == t)
            return prefixes[i].prefix;
    return "";
}

enum kiln_transport kiln_transport_of(const char *ref)
{
    for (size_t i = 0; ref && i < ARRAY_SIZE(prefixes); i++)
        if (!strncmp(ref, prefixes[i].prefix, strlen(prefixes[i].prefix)))
            return prefixes[i].kind;
    return KILN_TRANSPORT_NONE;
}

void kiln_spec_free(struct kiln_spec *s)
{
    if (!s)
        return;
    free(s->path);
    free(s->name);
    kiln_reference_free(&s->ref);
    memset(s, 0, sizeof(*s));
    s->index = -1;
}

bool kiln_ref_name_valid(const char *name)
{
    if (kiln_tag_valid(name))
        return true;
    /* containers/image's refRegexp: component(/component)*, where a
     * component is alnum+ (separator alnum+)* and a separator one of
     * - . _ : @ + or "--" */
    const char *p = name;
    for (;;) {
        if (!isalnum((unsigned char)*p))
            return false;
        while (isalnum((unsigned char)*p))
            p++;
        if (!*p)
            return true;
        if (*p == '/')
            p++;
        else if (p[0] == '-' && p[1] == '-')
            p += 2;
        else if (strchr("-._:@+", *p))
            p++;
        else
            return false;
    }
}

bool kiln_repo_tag_matches(const char *repo_tag, const struct kiln_reference *want)
{
    struct kiln_reference r;
    if (!repo_tag || kiln_reference_parse(repo_tag, &r, NULL) < 0)
        return false;
    bool same = !strcmp(r.domain, want->domain) && !strcmp(r.path, want->path) && r.tag &&
                want->tag && !strcmp(r.tag, want->tag);
    kiln_reference_free(&r);
    return same;
}

/* The path up to the first ':' that no '\' escapes; *rest after it, or NULL. */
static int split_path(const char *spec, const char *p, char **path, const char **rest,
                      struct kiln_error *err)
{
    struct kiln_buf b = { 0 };
    *rest = NULL;
    int rc = kiln_buf_append(&b, "", 0, err);
    for (; rc == 0 && *p; p++) {
        if (*p == ':') {
            *rest = p + 1;
            break;
        }
        if (*p == '\\' && (p[1] == ':' || p[1] == '\\'))
            p++;
        rc = kiln_buf_append(&b, p, 1, err);
    }
    if (rc < 0) {
        kiln_buf_free(&b);
        return -1;
    }
    size_t l = b.len;
    while (l > 1 && b.data[l - 1] == '/')
        b.data[--l] = '\0';
    *path = b.data;
    if (!l)
        return kiln_fail(err, KILN_ERR_USAGE, "%s: no path given", spec);
    return 0;
}

/* ":@INDEX": a decimal position from 0. */
static int parse_index(const char *spec, const char *t, long *out, struct kiln_error *err)
{
    char *end;
    errno = 0;
    long v = t[0] >= '0' && t[0] <= '9' ? strtol(t, &end, 10) : -1;
    if (v < 0 || errno || *end || v > INT_MAX)
        return kiln_fail(err, KILN_ERR_USAGE,
                         "%s: '@%s' is not an image index (write @0 for the first image, @1 for "
                         "the second, …)",
                         spec, t);
    *out = v;
    return 0;
}

static int parse(const char *spec, struct kiln_spec *s, struct kiln_error *err)
{
    memset(s, 0, sizeof(*s));
    s->index = -1;
    s->kind = kiln_transport_of(spec);
    if (s->kind == KILN_TRANSPORT_NONE)
        return kiln_fail(err, KILN_ERR_USAGE, "%s: unknown transport; " KILN_TRANSPORTS_HINT, spec);
    const char *p = spec + strlen(kiln_transport_prefix(s->kind));
    if (s->kind == KILN_TRANSPORT_DOCKER) {
        if (kiln_reference_parse(p, &s->ref, err) < 0) {
            kiln_spec_free(s);
            return kiln_error_prefix(err, "%s", spec);
        }
        s->have_ref = true;
        return 0;
    }
    const char *rest;
    if (split_path(spec, p, &s->path, &rest, err) < 0)
        goto fail;
    if (!rest)
        return 0;
    if (rest[0] == '@') {
        if (parse_index(spec, rest + 1, &s->index, err) < 0)
            goto fail;
        return 0;
    }
    if (!(s->name = kiln_strdup(rest, err)))
        goto fail;
    if (s->kind != KILN_TRANSPORT_DOCKER_ARCHIVE) {
        if (!kiln_ref_name_valid(rest)) {
            kiln_fail(err, KILN_ERR_USAGE,
                      "%s: '%s' is not a valid tag or image name (letters and digits, joined by "
                      "one of - . _ : @ + and '/'; a ':' in the path is written \\:)",
                      spec, rest);
            goto fail;
        }
        return 0;
    }
    /* docker-archive: a reference, normalised as docker does (skopeo too) */
    if (kiln_reference_parse(rest, &s->ref, err) < 0) {
        kiln_error_prefix(err, "%s", spec);
        goto fail;
    }
    s->have_ref = true;
    if (s->ref.digest) {
        kiln_fail(err, KILN_ERR_USAGE,
                  "%s: a docker-archive names its images by tag, not by digest (use "
                  "NAME:TAG or @INDEX)",
                  spec);
        goto fail;
    }
    return 0;
fail:
    kiln_spec_free(s);
    return -1;
}

int kiln_spec_parse(const char *spec, const char *what, struct kiln_spec *s, struct kiln_error *err)
{
    if (parse(spec, s, err) == 0)
        return 0;
    if (what && err && err->code != KILN_ERR_NOMEM) {
        /* "-o SPEC: …": the message starts with the spec */
        char old[KILN_ERROR_MESSAGE_MAX];
        memcpy(old, err->message, sizeof(old));
        snprintf(err->message, sizeof(err->message), "%s %s", what, old);
    }
    return -1;
}

/* Appends the components of text[0..n) to out, "." dropped and ".." taking
 * the last one off; fails when ".." would leave the top. */
static int push_components(struct kiln_buf *out, const char *text, size_t n, bool *escapes,
                           struct kiln_error *err)
{
    for (const char *p = text, *end = text + n; p < end;) {
        while (p < end && *p == '/')
            p++;
        const char *c = p;
        while (p < end && *p != '/')
            p++;
        size_t l = (size_t)(p - c);
        if (l == 0 || (l == 1 && c[0] == '.'))
            continue;
        if (l == 2 && c[0] == '.' && c[1] == '.') {
            if (!out->len) {
                *escapes = true;
                return -1;
            }
            char *up = strrchr(out->data, '/');
            out->len = up ? (size_t)(up - out->data) : 0;
            out->data[out->len] = '\0';
            continue;
        }
        if ((out->len && kiln_buf_append(out, "/", 1, err) < 0) ||
            kiln_buf_append(out, c, l, err) < 0)
            return -1;
    }
    return 0;
}

int kiln_archive_link_resolve(const char *member, const char *target, bool symlink,
                              struct kiln_buf *out, struct kiln_error *err)
{
    kiln_buf_free(out);
    if (kiln_buf_append(out, "", 0, err) < 0)
        return -1;
    bool escapes = false;
    /* a symlink's target is relative to its directory; a hardlink's to the archive */
    const char *slash = strrchr(member, '/');
    if (symlink && target[0] != '/' && slash &&
        push_components(out, member, (size_t)(slash - member), &escapes, err) < 0)
        goto fail;
    if (push_components(out, target, strlen(target), &escapes, err) < 0)
        goto fail;
    return 0;
fail:
    if (escapes)
        kiln_fail(err, KILN_ERR_INPUT, "link '%s' -> '%s' points outside the archive", member,
                  target);
    return -1;
}
