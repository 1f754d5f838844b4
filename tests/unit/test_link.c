/* Header values the registry client parses itself: the Link header of tag-list
 * pagination (RFC 8288) and decimal values (OCI-Chunk-Min-Length, Retry-After). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "registry/http.h"

/* The "next" target of a Link value, or NULL; the call must succeed. */
static char *next_of(const char *link)
{
    char *next = (char *)1;
    struct kiln_error err = {0};
    assert_int_equal(kiln_link_next(link, &next, &err), 0);
    return next;
}

static void expect_next(const char *link, const char *want)
{
    char *next = next_of(link);
    if (!want) {
        assert_null(next);
        return;
    }
    assert_non_null(next);
    assert_string_equal(next, want);
    free(next);
}

static void expect_malformed(const char *link)
{
    char *next = (char *)1;
    struct kiln_error err = {0};
    assert_int_equal(kiln_link_next(link, &next, &err), -1);
    assert_null(next);
    assert_int_equal(err.code, KILN_ERR_FORMAT);
    assert_non_null(strstr(err.message, "Link header"));
}

static void link_forms(void **state)
{
    (void)state;
    /* what Docker Hub and distribution send */
    expect_next("</v2/library/alpine/tags/list?last=3.19&n=100>; rel=\"next\"",
                "/v2/library/alpine/tags/list?last=3.19&n=100");
    /* an absolute target, unquoted rel */
    expect_next("<https://ghcr.io/v2/o/r/tags/list?last=v1&n=100>; rel=next",
                "https://ghcr.io/v2/o/r/tags/list?last=v1&n=100");
    /* several links: the one whose rel is next, not the first */
    expect_next("</p?last=a>; rel=\"prev\", </n?last=z>; rel=\"next\"", "/n?last=z");
    expect_next("</n>; rel=\"next\", </p>; rel=\"prev\"", "/n");
    /* rel lists, case, more parameters, blanks everywhere */
    expect_next("</a>; rel=\"prev next\"; type=\"application/json\"", "/a");
    expect_next("</a>; rel=\"next\tlast\"", "/a");
    expect_next("  </b>  ;  rel = \"NEXT\"  ", "/b");
    expect_next("</c>;rel=next;title=x", "/c");
    expect_next("</d>; title=\"a, b; rel=prev\"; rel=\"next\"", "/d");
    expect_next("</e>; rel=\"n\\ext\"", "/e"); /* quoted-pair */
    expect_next(",, </f>; rel=next ,", "/f");
    expect_next("</g>; hreflang; rel=next", "/g"); /* a parameter without a value */
    /* the first next link ends the parse: what follows it is not read */
    expect_next("</h>; rel=next, garbage", "/h");
    /* an empty target is returned as such: the caller refuses a page linking to itself */
    expect_next("<>; rel=\"next\"", "");
}

static void link_no_next(void **state)
{
    (void)state;
    expect_next(NULL, NULL);
    expect_next("", NULL);
    expect_next("   ", NULL);
    expect_next("</a>; rel=\"prev\"", NULL);
    expect_next("</a>; rel=\"nextpage\"", NULL);
    expect_next("</a>; rel=\"next-page prev\"", NULL);
    expect_next("</a>; title=\"next\"; rel=\"last\"", NULL);
    expect_next("</a>", NULL);
    expect_next("</next>; rel=prev", NULL);
    /* only the first rel of a link counts (RFC 8288, 3.3) */
    expect_next("</a>; rel=\"first\"; rel=\"next\"", NULL);
}

static void link_garbage(void **state)
{
    (void)state;
    expect_malformed("rel=\"next\" </a>");
    expect_malformed("</a> rel=\"next\"");
    expect_malformed("</a; rel=\"next\"");
    expect_malformed("</a b>; rel=\"next\"");
    expect_malformed("</a\x01>; rel=next");
    expect_malformed("</a>; rel=\"next");
    expect_malformed("</a>; rel=\"next\\");
    expect_malformed("</a>; =x; rel=next");
    expect_malformed("</a>; rel=");
    expect_malformed("</a>; rel=prev, garbage, </b>; rel=next");
    expect_malformed("<</a>>; rel=next");
}

static void header_numbers(void **state)
{
    (void)state;
    uint64_t n = 7;
    assert_int_equal(kiln_header_uint("5", &n), 0);
    assert_int_equal(n, 5);
    assert_int_equal(kiln_header_uint(" 120\t", &n), 0);
    assert_int_equal(n, 120);
    assert_int_equal(kiln_header_uint("0", &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(kiln_header_uint("18446744073709551615", &n), 0);
    assert_true(n == UINT64_MAX);
    assert_int_equal(kiln_header_uint("99999999999999999999999", &n), 0);
    assert_true(n == UINT64_MAX);
    n = 7;
    assert_int_equal(kiln_header_uint(NULL, &n), -1);
    assert_int_equal(kiln_header_uint("", &n), -1);
    assert_int_equal(kiln_header_uint("-1", &n), -1);
    assert_int_equal(kiln_header_uint("+1", &n), -1);
    assert_int_equal(kiln_header_uint("3 s", &n), -1);
    assert_int_equal(kiln_header_uint("0x10", &n), -1);
    assert_int_equal(kiln_header_uint("Wed, 21 Oct 2015 07:28:00 GMT", &n), -1);
    assert_int_equal(n, 7);
}

static long line(struct kiln_http_resp *r, const char *l)
{
    return kiln_http_parse_header(r, l, strlen(l));
}

static void header_lines(void **state)
{
    (void)state;
    struct kiln_http_resp r;
    memset(&r, 0, sizeof(r));
    assert_int_equal(line(&r, "HTTP/1.1 100 Continue\r\n"), 100);
    assert_int_equal(line(&r, "Location: /stale\r\n"), -1);
    /* a new status line starts a new answer */
    assert_int_equal(line(&r, "HTTP/1.1 202 Accepted\r\n"), 202);
    assert_null(r.location);
    assert_int_equal(line(&r, "location:   /v2/x/blobs/uploads/u?_state=a \r\n"), -1);
    assert_string_equal(r.location, "/v2/x/blobs/uploads/u?_state=a");
    line(&r, "OCI-Chunk-Min-Length: 1048576\r\n");
    assert_string_equal(r.chunk_min, "1048576");
    line(&r, "Content-Length: 42\r\n");
    assert_true(r.content_length == 42);
    line(&r, "Content-Length: 42abc\r\n");
    assert_true(r.content_length == 0);
    /* repeated Link headers are one list; case does not matter */
    line(&r, "Link: </a>; rel=prev\r\n");
    line(&r, "LINK: </b>; rel=next\r\n");
    assert_string_equal(r.link, "</a>; rel=prev, </b>; rel=next");
    char *next = NULL;
    assert_int_equal(kiln_link_next(r.link, &next, NULL), 0);
    assert_string_equal(next, "/b");
    free(next);
    /* at most four WWW-Authenticate values are kept */
    for (int i = 0; i < 6; i++)
        line(&r, "WWW-Authenticate: Basic realm=\"r\"\r\n");
    assert_int_equal(r.n_www_auth, 4);
    assert_int_equal(line(&r, "no colon here\r\n"), -1);
    /* a status that is not a number, or out of range, reads as 0 */
    assert_int_equal(line(&r, "HTTP/1.1 99999999999999999999 Big\r\n"), 0);
    assert_int_equal(line(&r, "HTTP/2\r\n"), 0);
    assert_int_equal(line(&r, "HTTP/2 404\r\n"), 404);
    kiln_http_resp_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(link_forms),
        cmocka_unit_test(link_no_next),
        cmocka_unit_test(link_garbage),
        cmocka_unit_test(header_numbers),
        cmocka_unit_test(header_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
