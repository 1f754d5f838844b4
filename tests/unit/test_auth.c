/* Registry credentials, auth files and WWW-Authenticate challenges. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "registry/auth.h"
#include "registry/http.h"
#include "unit.h"

static void challenge_bearer(void **state)
{
    (void)state;
    char h[] = "Bearer realm=\"https://auth.example.com/token\",service=\"registry.example.com\","
               "scope=\"repository:team/app:pull,push\",error=\"invalid_token\"";
    char *hs[] = {h};
    struct kiln_challenge c;
    struct kiln_error err = {0};
    assert_int_equal(kiln_challenge_parse(hs, 1, &c, &err), 0);
    assert_string_equal(c.scheme, "bearer");
    assert_string_equal(c.realm, "https://auth.example.com/token");
    assert_string_equal(c.service, "registry.example.com");
    assert_string_equal(c.scope, "repository:team/app:pull,push");
    assert_string_equal(c.error, "invalid_token");
    kiln_challenge_free(&c);
}

static void challenge_prefers_bearer(void **state)
{
    (void)state;
    char a[] = "Basic realm=\"Registry Realm\"";
    char b[] = "bEaReR realm=\"https://t/x?a=1\" , service=\"s\\\"q\"";
    char *hs[] = {a, b};
    struct kiln_challenge c;
    assert_int_equal(kiln_challenge_parse(hs, 2, &c, NULL), 0);
    assert_string_equal(c.scheme, "bearer");
    assert_string_equal(c.realm, "https://t/x?a=1");
    assert_string_equal(c.service, "s\"q");
    kiln_challenge_free(&c);

    char one[] = "Basic realm=\"r\", Bearer realm=\"https://tok\",service=\"svc\"";
    char *hs1[] = {one};
    assert_int_equal(kiln_challenge_parse(hs1, 1, &c, NULL), 0);
    assert_string_equal(c.scheme, "bearer");
    assert_string_equal(c.realm, "https://tok");
    assert_string_equal(c.service, "svc");
    kiln_challenge_free(&c);

    char basic[] = "Basic realm=\"Registry Realm\"";
    char *hs2[] = {basic};
    assert_int_equal(kiln_challenge_parse(hs2, 1, &c, NULL), 0);
    assert_string_equal(c.scheme, "basic");
    kiln_challenge_free(&c);
}

static void challenge_errors(void **state)
{
    (void)state;
    struct kiln_challenge c;
    struct kiln_error err = {0};
    char neg[] = "Negotiate abc";
    char *hs[] = {neg};
    assert_int_equal(kiln_challenge_parse(hs, 1, &c, &err), -1);
    char norealm[] = "Bearer service=\"x\"";
    char *hs2[] = {norealm};
    assert_int_equal(kiln_challenge_parse(hs2, 1, &c, &err), -1);
    char unterminated[] = "Bearer realm=\"abc";
    char *hs3[] = {unterminated};
    assert_int_equal(kiln_challenge_parse(hs3, 1, &c, &err), -1);
}

static void base64_roundtrip(void **state)
{
    (void)state;
    char *e = kiln_base64("user:pa:ss", 10, NULL);
    assert_string_equal(e, "dXNlcjpwYTpzcw==");
    struct kiln_buf b = {0};
    assert_int_equal(kiln_unbase64(e, &b, NULL), 0);
    assert_int_equal(b.len, 10);
    assert_memory_equal(b.data, "user:pa:ss", 10);
    kiln_buf_free(&b);
    free(e);
    assert_int_equal(kiln_unbase64("abc", &b, NULL), -1);
}

static char dir[256];

static void write_file(const char *name, const char *text, mode_t mode)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    chmod(p, mode);
}

static void creds_from_files(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "%s/kiln-auth-XXXXXX", test_tmpdir());
    assert_non_null(mkdtemp(dir));
    char conf[512];
    snprintf(conf, sizeof(conf), "%s/config.json", dir);
    /* auth = base64("alice:s3cret") */
    write_file("config.json",
               "{\"auths\":{\"https://reg.example.com:5000/v1/\":{\"auth\":\"YWxpY2U6czNjcmV0\"},"
               "\"https://index.docker.io/v1/\":{\"username\":\"bob\",\"password\":\"pw\"},"
               "\"tok.example.com\":{\"identitytoken\":\"IDT\"}},"
               "\"credHelpers\":{\"helped.example.com\":\"kilntest\"}}",
               0600);
    write_file("docker-credential-kilntest",
               "#!/bin/sh\nread host\n[ \"$1\" = get ] || exit 3\n"
               "printf '{\"ServerURL\":\"%s\",\"Username\":\"hu\",\"Secret\":\"hs\"}' \"$host\"\n",
               0755);
    char path[1024];
    snprintf(path, sizeof(path), "%s:%s", dir, getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
    setenv("PATH", path, 1);
    unsetenv("REGISTRY_AUTH_FILE");
    unsetenv("XDG_RUNTIME_DIR");
    setenv("DOCKER_CONFIG", dir, 1);

    struct kiln_creds c;
    struct kiln_error err = {0};
    assert_int_equal(kiln_creds_lookup("reg.example.com:5000", NULL, &c, &err), 1);
    assert_string_equal(c.user, "alice");
    assert_string_equal(c.pass, "s3cret");
    kiln_creds_free(&c);
    assert_int_equal(kiln_creds_lookup("docker.io", NULL, &c, &err), 1);
    assert_string_equal(c.user, "bob");
    kiln_creds_free(&c);
    assert_int_equal(kiln_creds_lookup("tok.example.com", NULL, &c, &err), 1);
    assert_string_equal(c.identity_token, "IDT");
    kiln_creds_free(&c);
    assert_int_equal(kiln_creds_lookup("helped.example.com", NULL, &c, &err), 1);
    assert_string_equal(c.user, "hu");
    assert_string_equal(c.pass, "hs");
    kiln_creds_free(&c);
    assert_int_equal(kiln_creds_lookup("other.example.com", NULL, &c, &err), 0);

    /* An explicit auth file that does not exist is an error naming it. */
    assert_int_equal(kiln_creds_lookup("x", "/nonexistent/auth.json", &c, &err), -1);
    assert_non_null(strstr(err.message, "/nonexistent/auth.json"));

    /* A secret never appears in an error about a malformed entry. */
    write_file("bad.json", "{\"auths\":{\"h\":{\"auth\":\"c2VjcmV0LW5vLWNvbG9u\"}}}", 0600);
    char bad[512];
    snprintf(bad, sizeof(bad), "%s/bad.json", dir);
    assert_int_equal(kiln_creds_lookup("h", bad, &c, &err), -1);
    assert_null(strstr(err.message, "secret-no-colon"));

    /* store and remove */
    char af[512];
    snprintf(af, sizeof(af), "%s/sub/auth.json", dir);
    struct kiln_creds s = {.user = (char *)"u", .pass = (char *)"p:w"};
    assert_int_equal(kiln_auth_file_store(af, "127.0.0.1:5000", &s, &err), 0);
    assert_int_equal(kiln_creds_lookup("127.0.0.1:5000", af, &c, &err), 1);
    assert_string_equal(c.user, "u");
    assert_string_equal(c.pass, "p:w");
    kiln_creds_free(&c);
    struct stat st;
    assert_int_equal(stat(af, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(kiln_auth_file_remove(af, "127.0.0.1:5000", &err), 1);
    assert_int_equal(kiln_creds_lookup("127.0.0.1:5000", af, &c, &err), 0);
    assert_int_equal(kiln_auth_file_remove(af, "127.0.0.1:5000", &err), 0);

    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

static void urls(void **state)
{
    (void)state;
    char *u = kiln_url_resolve("http://127.0.0.1:5000/v2/a/blobs/uploads/",
                               "/v2/a/blobs/uploads/123?_state=x", NULL);
    assert_string_equal(u, "http://127.0.0.1:5000/v2/a/blobs/uploads/123?_state=x");
    free(u);
    u = kiln_url_resolve("https://r.example.com/v2/x", "https://s3.example.com/b?sig=1", NULL);
    assert_string_equal(u, "https://s3.example.com/b?sig=1");
    free(u);
    u = kiln_url_host("https://Reg.Example.com:5000/v2/", NULL);
    assert_string_equal(u, "reg.example.com:5000");
    free(u);
    u = kiln_url_escape("repository:a/b:pull,push", NULL);
    assert_string_equal(u, "repository%3Aa%2Fb%3Apull%2Cpush");
    free(u);
    assert_string_equal(kiln_auth_key("docker.io"), "https://index.docker.io/v1/");
    assert_string_equal(kiln_auth_key("r:5000"), "r:5000");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(challenge_bearer), cmocka_unit_test(challenge_prefers_bearer),
        cmocka_unit_test(challenge_errors), cmocka_unit_test(base64_roundtrip),
        cmocka_unit_test(creds_from_files), cmocka_unit_test(urls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
