/*
 * Image references: [DOMAIN/]PATH[:TAG][@DIGEST], with Docker's rules: the
 * first component is a domain when it has '.' or ':' or is "localhost";
 * otherwise the domain is docker.io and one-part paths get "library/".
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "reference.h"

static bool alnum_lower(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* [a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)* */
static bool component_valid(const char *s, size_t n)
{
    if (n == 0 || !alnum_lower(s[0]) || !alnum_lower(s[n - 1]))
        return false;
    for (size_t i = 0; i < n;) {
        if (alnum_lower(s[i])) {
            i++;
            continue;
        }
        size_t j = i;
        if (s[i] == '.')
            j = i + 1;
        else if (s[i] == '_')
            j = (i + 1 < n && s[i + 1] == '_') ? i + 2 : i + 1;
        else if (s[i] == '-')
            while (j < n && s[j] == '-')
                j++;
        else
            return false;
        if (j >= n || !alnum_lower(s[j]))
            return false;
        i = j;
    }
    return true;
}

bool kiln_tag_valid(const char *t)
{
    size_t n = strlen(t);
    if (n == 0 || n > 128)
        return false;
    if (!(isalnum((unsigned char)t[0]) || t[0] == '_'))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!(isalnum((unsigned char)t[i]) || t[i] == '_' || t[i] == '.' || t[i] == '-'))
            return false;
    return true;
}

static bool domain_valid(const char *s, size_t n)
{
    if (n == 0)
        return false;
    if (s[0] == '[') { /* IPv6 literal */
        const char *close = memchr(s, ']', n);
        if (!close)
            return false;
        size_t rest = n - (size_t)(close - s) - 1;
        s = close + 1;
        n = rest;
        if (n == 0)
            return true;
        if (s[0] != ':')
            return false;
    } else {
        /* labels: [A-Za-z0-9] with inner hyphens, separated by single dots */
        size_t hl = 0;
        while (hl < n && s[hl] != ':')
            hl++;
        size_t start = 0;
        for (size_t i = 0; i <= hl; i++) {
            if (i == hl || s[i] == '.') {
                if (i == start || s[start] == '-' || s[i - 1] == '-')
                    return false;
                start = i + 1;
            } else if (!(isalnum((unsigned char)s[i]) || s[i] == '-'))
                return false;
        }
    }
    const char *colon = memchr(s, ':', n);
    if (colon) {
        size_t pl = n - (size_t)(colon - s) - 1;
        if (pl == 0 || pl > 5)
            return false;
        for (size_t i = 1; i <= pl; i++)
            if (!isdigit((unsigned char)colon[i]))
                return false;
    }
    return true;
}

void kiln_reference_free(struct kiln_reference *r)
{
    if (!r)
        return;
    free(r->domain);
    free(r->path);
    free(r->tag);
    free(r->digest);
    memset(r, 0, sizeof(*r));
}

bool kiln_is_docker_hub(const char *host)
{
    return !strcmp(host, KILN_HUB_DOMAIN) || !strcmp(host, KILN_HUB_API_HOST) ||
           !strcmp(host, "index.docker.io");
}

const char *kiln_hub_canonical(const char *host)
{
    return kiln_is_docker_hub(host) ? KILN_HUB_DOMAIN : host;
}

int kiln_reference_parse(const char *text, struct kiln_reference *r, struct kiln_error *err)
{
    memset(r, 0, sizeof(*r));
    size_t len = strlen(text);
    if (len == 0 || len > 1024)
        return kiln_fail(err, KILN_ERR_USAGE, "reference '%s': empty or too long", text);
    _cleanup_free_ char *s = kiln_strdup(text, err);
    if (!s)
        return -1;
    char *at = strchr(s, '@');
    if (at) {
        *at++ = '\0';
        if (!kiln_digest_valid(at))
            return kiln_fail(err, KILN_ERR_USAGE,
                             "reference '%s': digest must be sha256: and 64 lowercase hex digits",
                             text);
    }
    char *slash = strrchr(s, '/');
    char *colon = strrchr(slash ? slash : s, ':');
    char *tag = NULL;
    if (colon) {
        *colon = '\0';
        tag = colon + 1;
        if (!kiln_tag_valid(tag))
            return kiln_fail(err, KILN_ERR_USAGE,
                             "reference '%s': tag '%s' is invalid (up to 128 of A-Z a-z 0-9 _ . -, "
                             "not starting with . or -)",
                             text, tag);
    }
    const char *domain = KILN_HUB_DOMAIN;
    char *path = s;
    char *first = strchr(s, '/');
    if (first) {
        size_t dl = (size_t)(first - s);
        bool is_domain = memchr(s, '.', dl) || memchr(s, ':', dl) ||
                         (dl == 9 && !strncmp(s, "localhost", 9)) || s[0] == '[';
        if (is_domain) {
            if (!domain_valid(s, dl))
                return kiln_fail(err, KILN_ERR_USAGE, "reference '%s': invalid registry host",
                                 text);
            /* the port, after the host (or after an IPv6 literal's ']') */
            const char *br = memchr(s, ']', dl);
            const char *pc = memchr(br ? br : s, ':', dl - (size_t)((br ? br : s) - s));
            if (pc && (strtol(pc + 1, NULL, 10) < 1 || strtol(pc + 1, NULL, 10) > 65535))
                return kiln_fail(err, KILN_ERR_USAGE,
                                 "reference '%s': invalid port %.*s in registry host '%.*s' "
                                 "(a port is 1-65535)",
                                 text, (int)(dl - (size_t)(pc + 1 - s)), pc + 1, (int)dl, s);
            *first = '\0';
            domain = s;
            path = first + 1;
        }
    }
    domain = kiln_hub_canonical(domain);
    if (!*path)
        return kiln_fail(err, KILN_ERR_USAGE, "reference '%s': no repository name", text);
    if (path[strlen(path) - 1] == '/' || strstr(path, "//"))
        return kiln_fail(err, KILN_ERR_USAGE,
                         "reference '%s': empty path component in the repository name", text);
    for (char *p = path; *p;) {
        char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (!component_valid(p, n))
            return kiln_fail(err, KILN_ERR_USAGE,
                             "reference '%s': repository name '%s' is invalid (lowercase letters, "
                             "digits and . _ - separators)",
                             text, path);
        p += n;
        if (*p)
            p++;
    }
    if (strlen(path) + strlen(domain) + 1 +
            (!strcmp(domain, KILN_HUB_DOMAIN) && !strchr(path, '/') ? 8 : 0) > 255)
        return kiln_fail(err, KILN_ERR_USAGE, "reference '%s': name longer than 255", text);
    struct kiln_buf full = {0};
    int rc = 0;
    if (!strcmp(domain, KILN_HUB_DOMAIN) && !strchr(path, '/'))
        rc = kiln_buf_printf(&full, err, "library/%s", path);
    else
        rc = kiln_buf_printf(&full, err, "%s", path);
    if (rc < 0)
        return -1;
    r->path = full.data;
    r->domain = kiln_strdup(domain, err);
    if (!r->domain)
        goto oom;
    if (tag || !at) {
        if (!(r->tag = kiln_strdup(tag ? tag : "latest", err)))
            goto oom;
    }
    if (at && !(r->digest = kiln_strdup(at, err)))
        goto oom;
    return 0;
oom:
    kiln_reference_free(r);
    return -1;
}

char *kiln_reference_full(const struct kiln_reference *r, struct kiln_error *err)
{
    struct kiln_buf b = {0};
    if (kiln_buf_printf(&b, err, "%s/%s", r->domain, r->path) < 0 ||
        (r->tag && kiln_buf_printf(&b, err, ":%s", r->tag) < 0) ||
        (r->digest && kiln_buf_printf(&b, err, "@%s", r->digest) < 0)) {
        kiln_buf_free(&b);
        return NULL;
    }
    return b.data;
}

char *kiln_reference_familiar(const struct kiln_reference *r, bool with_tag,
                              struct kiln_error *err)
{
    struct kiln_buf b = {0};
    int rc;
    /* docker shows "library/app" as "app", but "library/a/b" as it is */
    if (!strcmp(r->domain, KILN_HUB_DOMAIN))
        rc = kiln_buf_printf(&b, err, "%s",
                             !strncmp(r->path, "library/", 8) && !strchr(r->path + 8, '/')
                                 ? r->path + 8
                                 : r->path);
    else
        rc = kiln_buf_printf(&b, err, "%s/%s", r->domain, r->path);
    if (rc == 0 && with_tag && r->tag)
        rc = kiln_buf_printf(&b, err, ":%s", r->tag);
    if (rc < 0) {
        kiln_buf_free(&b);
        return NULL;
    }
    return b.data;
}
