/* Unit tests: image/rebase.c — a config moved from its old base to a new one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "image/rebase.h"

static char *rebase(const char *img, const char *old, const char *nw)
{
    struct kiln_error err = { 0 };
    char *out = NULL;
    if (kiln_rebase_config(img, old, nw, &out, &err) < 0)
        fail_msg("%s", err.message);
    return out;
}

static void expect_config(const char *img, const char *old, const char *nw, const char *want)
{
    char *out = rebase(img, old, nw);
    json_t *doc = json_loads(out, 0, NULL);
    char *cfg = json_dumps(json_object_get(doc, "config"), JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(cfg, want);
    free(cfg);
    json_decref(doc);
    free(out);
}

static void test_inherited_takes_the_new(void **state)
{
    (void)state;
    expect_config("{\"config\":{\"Cmd\":[\"old\"],\"User\":\"app\",\"WorkingDir\":\"/o\"}}",
                  "{\"config\":{\"Cmd\":[\"old\"],\"WorkingDir\":\"/o\"}}",
                  "{\"config\":{\"Cmd\":[\"new\"],\"StopSignal\":\"SIGINT\"}}",
                  "{\"Cmd\":[\"new\"],\"StopSignal\":\"SIGINT\",\"User\":\"app\"}");
}

static void test_own_settings_stay(void **state)
{
    (void)state;
    expect_config("{\"config\":{\"Cmd\":[\"mine\"],\"Entrypoint\":[\"/e\"]}}",
                  "{\"config\":{\"Cmd\":[\"old\"],\"Entrypoint\":[\"/e\"]}}",
                  "{\"config\":{\"Cmd\":[\"new\"],\"Entrypoint\":[\"/n\"]}}",
                  "{\"Cmd\":[\"mine\"],\"Entrypoint\":[\"/n\"]}");
}

static void test_dropped_stays_dropped(void **state)
{
    (void)state;
    expect_config("{\"config\":{}}", "{\"config\":{\"Cmd\":[\"old\"]}}",
                  "{\"config\":{\"Cmd\":[\"new\"]}}", "{}");
}

static void test_env_by_variable(void **state)
{
    (void)state;
    expect_config(
        "{\"config\":{\"Env\":[\"PATH=/bin\",\"OLD=1\",\"SHARED=mine\",\"APP=3\"]}}",
        "{\"config\":{\"Env\":[\"PATH=/bin\",\"OLD=1\",\"SHARED=old\",\"GONE=x\"]}}",
        "{\"config\":{\"Env\":[\"NEW=2\",\"PATH=/usr/bin:/bin\",\"SHARED=new\",\"GONE=y\"]}}",
        "{\"Env\":[\"NEW=2\",\"PATH=/usr/bin:/bin\",\"SHARED=mine\",\"APP=3\"]}");
}

static void test_labels_by_key(void **state)
{
    (void)state;
    expect_config("{\"config\":{\"Labels\":{\"a\":\"old\",\"b\":\"mine\",\"c\":\"own\"}}}",
                  "{\"config\":{\"Labels\":{\"a\":\"old\",\"b\":\"old\",\"d\":\"x\"}}}",
                  "{\"config\":{\"Labels\":{\"a\":\"new\",\"b\":\"new\",\"d\":\"y\"}}}",
                  "{\"Labels\":{\"a\":\"new\",\"b\":\"mine\",\"c\":\"own\"}}");
}

static void test_history(void **state)
{
    (void)state;
    char *out = rebase("{\"history\":[{\"created_by\":\"o1\"},{\"created_by\":\"o2\"},"
                       "{\"created_by\":\"app\"}],\"config\":{}}",
                       "{\"history\":[{\"created_by\":\"o1\"},{\"created_by\":\"o2\"}]}",
                       "{\"history\":[{\"created_by\":\"n1\"}]}");
    json_t *doc = json_loads(out, 0, NULL);
    char *h = json_dumps(json_object_get(doc, "history"), JSON_COMPACT);
    assert_string_equal(h, "[{\"created_by\":\"n1\"},{\"created_by\":\"app\"}]");
    free(h);
    json_decref(doc);
    free(out);
}

static void test_not_json(void **state)
{
    (void)state;
    struct kiln_error err = { 0 };
    char *out = NULL;
    assert_int_equal(kiln_rebase_config("{}", "[", "{}", &out, &err), -1);
    assert_non_null(strstr(err.message, "old base"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inherited_takes_the_new),
        cmocka_unit_test(test_own_settings_stay),
        cmocka_unit_test(test_dropped_stays_dropped),
        cmocka_unit_test(test_env_by_variable),
        cmocka_unit_test(test_labels_by_key),
        cmocka_unit_test(test_history),
        cmocka_unit_test(test_not_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
