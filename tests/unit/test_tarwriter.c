/* Unit tests: tar/tarwriter.c — ustar headers, PAX records, ordering. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include <archive.h>
#include <archive_entry.h>

#include "internal.h"

#define BLOCK 512

/* ---- helpers ---------------------------------------------------------- */

struct tb {
    struct kiln_buf_sink bs;
    struct kiln_tar_writer w;
};

static void tb_init(struct tb *t)
{
    kiln_buf_sink_init(&t->bs);
    kiln_tar_writer_init(&t->w, &t->bs.sink);
}

static void tb_free(struct tb *t)
{
    kiln_buf_free(&t->bs.buf);
}

static const char *tb_data(struct tb *t)
{
    return t->bs.buf.data;
}

static size_t tb_len(struct tb *t)
{
    return t->bs.buf.len;
}

/* Writes one entry (header, data of e->size bytes from p if REG, padding). */
static void put(struct tb *t, const struct kiln_tar_entry *e, const void *p)
{
    struct kiln_error err = { 0 };
    assert_int_equal(kiln_tar_write_header(&t->w, e, &err), 0);
    if (e->type == KILN_TAR_REG && e->size)
        assert_int_equal(kiln_tar_write_data(&t->w, p, (size_t)e->size, &err), 0);
    assert_int_equal(kiln_tar_end_entry(&t->w, &err), 0);
}

static uint64_t octal(const char *f, size_t width)
{
    uint64_t v = 0;
    size_t i = 0;
    for (; i < width && f[i] >= '0' && f[i] <= '7'; i++)
        v = v * 8 + (uint64_t)(f[i] - '0');
    /* kiln writes width-1 digits and a NUL */
    assert_int_equal(i, width - 1);
    assert_int_equal(f[width - 1], '\0');
    return v;
}

static bool all_zero(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

/* The invariant parts of every ustar header kiln writes. */
static void check_header(const char *h)
{
    unsigned sum = 0;
    for (size_t i = 0; i < BLOCK; i++)
        sum += (i >= 148 && i < 156) ? (unsigned)' ' : (unsigned char)h[i];
    /* "%06o\0 " */
    for (size_t i = 148; i < 154; i++)
        assert_true(h[i] >= '0' && h[i] <= '7');
    assert_int_equal(h[154], '\0');
    assert_int_equal(h[155], ' ');
    uint64_t stored = 0;
    for (size_t i = 148; i < 154; i++)
        stored = stored * 8 + (uint64_t)(h[i] - '0');
    assert_int_equal(stored, sum);
    assert_memory_equal(h + 257, "ustar\0", 6);
    assert_memory_equal(h + 263, "00", 2);
    assert_true(all_zero(h + 265, 32));  /* uname */
    assert_true(all_zero(h + 297, 32));  /* gname */
    assert_true(all_zero(h + 345, 155)); /* prefix */
    assert_true(all_zero(h + 500, 12));
}

struct pax_rec {
    char key[128];
    const char *val;
    size_t vlen;
    size_t reclen;
};

/* Parses and validates "LEN KEY=VALUE\n" records; returns the count. */
static size_t pax_parse(const char *p, size_t n, struct pax_rec *out, size_t max)
{
    size_t i = 0, k = 0;
    while (i < n) {
        size_t len = 0, j = i;
        while (j < n && p[j] >= '0' && p[j] <= '9')
            len = len * 10 + (size_t)(p[j++] - '0');
        assert_true(j > i);
        assert_true(p[i] != '0'); /* no leading zeros */
        assert_true(j < n);
        assert_int_equal(p[j], ' ');
        assert_true(len > j - i + 3);
        assert_true(i + len <= n);
        assert_int_equal(p[i + len - 1], '\n');
        const char *ks = p + j + 1;
        const char *eq = memchr(ks, '=', (size_t)(p + i + len - ks));
        assert_non_null(eq);
        assert_true(k < max);
        size_t kl = (size_t)(eq - ks);
        assert_true(kl > 0 && kl < sizeof(out[k].key));
        memcpy(out[k].key, ks, kl);
        out[k].key[kl] = '\0';
        out[k].val = eq + 1;
        out[k].vlen = (size_t)(p + i + len - 1 - (eq + 1));
        out[k].reclen = len;
        k++;
        i += len;
    }
    assert_int_equal(i, n);
    return k;
}

struct parsed {
    const char *x;   /* PAX 'x' header, or NULL */
    const char *pax; /* PAX data */
    size_t pax_len;
    struct pax_rec rec[32];
    size_t nrec;
    const char *h; /* ustar header of the entry */
    size_t next;   /* offset after the ustar header */
};

/* Parses the entry whose first block is at off. */
static void parse_entry(const char *buf, size_t len, size_t off, struct parsed *p)
{
    memset(p, 0, sizeof(*p));
    assert_true(off + BLOCK <= len);
    const char *h = buf + off;
    check_header(h);
    if (h[156] == 'x') {
        p->x = h;
        p->pax_len = (size_t)octal(h + 124, 12);
        assert_true(p->pax_len > 0);
        p->pax = h + BLOCK;
        size_t blocks = (p->pax_len + BLOCK - 1) / BLOCK;
        assert_true(off + BLOCK + blocks * BLOCK + BLOCK <= len);
        /* padding after the records is zero */
        assert_true(all_zero(p->pax + p->pax_len, blocks * BLOCK - p->pax_len));
        p->nrec = pax_parse(p->pax, p->pax_len, p->rec, ARRAY_SIZE(p->rec));
        off += BLOCK + blocks * BLOCK;
        h = buf + off;
        check_header(h);
        assert_int_not_equal(h[156], 'x');
    }
    p->h = h;
    p->next = off + BLOCK;
}

static const struct pax_rec *rec_find(const struct parsed *p, const char *key)
{
    for (size_t i = 0; i < p->nrec; i++)
        if (!strcmp(p->rec[i].key, key))
            return &p->rec[i];
    return NULL;
}

static void assert_rec(const struct parsed *p, const char *key, const void *val, size_t vlen)
{
    const struct pax_rec *r = rec_find(p, key);
    if (!r)
        fail_msg("PAX record %s missing", key);
    assert_int_equal(r->vlen, vlen);
    assert_memory_equal(r->val, val, vlen);
}

static void assert_rec_str(const struct parsed *p, const char *key, const char *val)
{
    assert_rec(p, key, val, strlen(val));
}

static char *repeat_path(size_t len, char fill)
{
    /* "dddd/dddd/.../name" of exactly len bytes, components of 9 */
    char *s = malloc(len + 1);
    assert_non_null(s);
    for (size_t i = 0; i < len; i++)
        s[i] = (i % 10 == 9) ? '/' : fill;
    if (s[len - 1] == '/')
        s[len - 1] = fill;
    s[len] = '\0';
    return s;
}

/* ---- plain ustar ------------------------------------------------------ */

static void test_ustar_regular(void **state)
{
    (void)state;
    struct tb t;
    tb_init(&t);
    struct kiln_tar_entry e = { .path = "usr/bin/tool",
                                .type = KILN_TAR_REG,
                                .mode = 04755,
                                .uid = 1000,
                                .gid = 100,
                                .mtime = 1700000000,
                                .size = 5 };
    put(&t, &e, "hello");
    struct kiln_error err = { 0 };
    assert_int_equal(kiln_tar_finish(&t.w, &err), 0);

    assert_int_equal(tb_len(&t), 4 * BLOCK);
    const char *h = tb_data(&t);
    check_header(h);
    assert_string_equal(h, "usr/bin/tool");
    assert_true(all_zero(h + 12, 100 - 12));
    assert_memory_equal(h + 100, "0004755\0", 8);
    assert_memory_equal(h + 108, "0001750\0", 8);
    assert_memory_equal(h + 116, "0000144\0", 8);
    assert_memory_equal(h + 124, "00000000005\0", 12);
    assert_memory_equal(h + 136, "14524770400\0", 12);
    assert_int_equal(h[156], '0');
    assert_true(all_zero(h + 157, 100)); /* linkname */
    assert_memory_equal(h + 329, "0000000\0", 8);
    assert_memory_equal(h + 337, "0000000\0", 8);
    /* data, zero padding to 512, then two zero blocks */
    assert_memory_equal(h + BLOCK, "hello", 5);
    assert_true(all_zero(h + BLOCK + 5, BLOCK - 5));
    assert_true(all_zero(h + 2 * BLOCK, 2 * BLOCK));
    tb_free(&t);
}

static void test_mode_bits(void **state)
{
    (void)state;
    static const struct {
        uint32_t mode;
        const char *field;
    } cases[] = { { 0, "0000000" },
                  { 0644, "0000644" },
                  { 0755, "0000755" },
                  { 01777, "0001777" },
                  { 02755, "0002755" },
                  { 04755, "0004755" },
                  { 07777, "0007777" },
                  /* file-type bits above 07777 are not part of the mode field */
                  { 0100644, "0000644" } };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        struct tb t;
        tb_init(&t);
        struct kiln_tar_entry e = { .path = "f", .type = KILN_TAR_REG, .mode = cases[i].mode };
        put(&t, &e, NULL);
        assert_memory_equal(tb_data(&t) + 100, cases[i].field, 8);
        check_header(tb_data(&t));
        tb_free(&t);
    }
}

static void test_data_padding(void **state)
{
    (void)state;
    static const size_t sizes[] = { 0, 1, 511, 512, 513, 1024, 1500 };
    char *data = malloc(1500);
    assert_non_null(data);
    memset(data, 0x5a, 1500);
    for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
        struct tb t;
        tb_init(&t);
        struct kiln_tar_entry e = {
            .path = "f", .type = KILN_TAR_REG, .mode = 0644, .size = sizes[i]
        };
        struct kiln_error err = { 0 };
        assert_int_equal(kiln_tar_write_header(&t.w, &e, &err), 0);
        assert_int_equal(t.w.remaining, sizes[i]);
        /* data in two pieces */
        size_t half = sizes[i] / 2;
        assert_int_equal(kiln_tar_write_data(&t.w, data, half, &err), 0);
        assert_int_equal(kiln_tar_write_data(&t.w, data + half, sizes[i] - half, &err), 0);
        assert_int_equal(t.w.remaining, 0);
        assert_int_equal(kiln_tar_end_entry(&t.w, &err), 0);
        size_t padded = (sizes[i] + BLOCK - 1) / BLOCK * BLOCK;
        assert_int_equal(tb_len(&t), BLOCK + padded);
        assert_memory_equal(tb_data(&t) + BLOCK, data, sizes[i]);
        assert_true(all_zero(tb_data(&t) + BLOCK + sizes[i], padded - sizes[i]));
        assert_int_equal(kiln_tar_finish(&t.w, &err), 0);
        assert_int_equal(tb_len(&t), BLOCK + padded + 2 * BLOCK);
        assert_true(all_zero(tb_data(&t) + BLOCK + padded, 2 * BLOCK));
        tb_free(&t);
    }
    free(data);
}

static void test_writer_misuse(void **state)
{
    (void)state;
    struct tb t;
    tb_init(&t);
    struct kiln_error err = { 0 };
    struct kiln_tar_entry e = { .path = "f", .type = KILN_TAR_REG, .mode = 0644, .size = 4 };
    assert_int_equal(kiln_tar_write_header(&t.w, &e, &err), 0);
    size_t len = tb_len(&t);
    /* a new header while data is still owed */
    assert_int_equal(kiln_tar_write_header(&t.w, &e, &err), -1);
    assert_int_equal(err.code, KILN_ERR_INTERNAL);
    assert_int_equal(tb_len(&t), len);
    /* more data than announced */
    err.code = 0;
    assert_int_equal(kiln_tar_write_data(&t.w, "12345", 5, &err), -1);
    assert_int_equal(err.code, KILN_ERR_INTERNAL);
    assert_int_equal(tb_len(&t), len);
    /* ending early */
    assert_int_equal(kiln_tar_write_data(&t.w, "1", 1, &err), 0);
    err.code = 0;
    assert_int_equal(kiln_tar_end_entry(&t.w, &err), -1);
    assert_int_equal(err.code, KILN_ERR_INTERNAL);
    assert_non_null(strstr(err.message, "3 bytes short"));
    assert_int_equal(kiln_tar_write_data(&t.w, "234", 3, &err), 0);
    assert_int_equal(kiln_tar_end_entry(&t.w, &err), 0);
    assert_int_equal(tb_len(&t), 2 * BLOCK);
    tb_free(&t);
}

static void test_directory(void **state)
{
    (void)state;
    struct tb t;
    tb_init(&t);
    /* size is ignored for anything but regular files */
    struct kiln_tar_entry e = {
        .path = "a/b/etc", .type = KILN_TAR_DIR, .mode = 0755, .size = 99, .mtime = 1
    };
    put(&t, &e, NULL);
    assert_int_equal(t.w.remaining, 0);
    assert_int_equal(tb_len(&t), BLOCK);
    const char *h = tb_data(&t);
    check_header(h);
    assert_string_equal(h, "a/b/etc/");
    assert_int_equal(h[156], '5');
    assert_memory_equal(h + 100, "0000755\0", 8);
    assert_memory_equal(h + 124, "00000000000\0", 12);
    assert_memory_equal(h + 136, "00000000001\0", 12);
    tb_free(&t);

    /* 99 bytes + "/" fills the 100-byte name field exactly: no PAX */
    char *p99 = repeat_path(99, 'd');
    tb_init(&t);
    e.path = p99;
    put(&t, &e, NULL);
    assert_int_equal(tb_len(&t), BLOCK);
    assert_int_equal(tb_data(&t)[156], '5');
    assert_memory_equal(tb_data(&t), p99, 99);
    assert_int_equal(tb_data(&t)[99], '/');
    tb_free(&t);
    free(p99);

    /* 100 bytes + "/" does not: the PAX path keeps the slash */
    char *p100 = repeat_path(100, 'd');
    tb_init(&t);
    e.path = p100;
    put(&t, &e, NULL);
    struct parsed p;
    parse_entry(tb_data(&t), tb_len(&t), 0, &p);
    assert_non_null(p.x);
    assert_int_equal(p.nrec, 1);
    char want[102];
    snprintf(want, sizeof(want), "%s/", p100);
    assert_rec_str(&p, "path", want);
    assert_int_equal(p.h[156], '5');
    tb_free(&t);
    free(p100);
}

static void test_links(void **state)
{
    (void)state;
    struct tb t;
    tb_init(&t);
    struct kiln_tar_entry hl = { .path = "usr/bin/b",
                                 .linkname = "usr/bin/a",
                                 .type = KILN_TAR_HARDLINK,
                                 .mode = 0755,
                                 .size = 5 };
    struct kiln_error err = { 0 };
    assert_int_equal(kiln_tar_write_header(&t.w, &hl, &err), 0);
    assert_int_equal(t.w.remaining, 0); /* a hardlink carries no data */
    assert_int_equal(kiln_tar_end_entry(&t.w, &err), 0);
    assert_int_equal(tb_len(&t), BLOCK);
    const char *h = tb_data(&t);
    check_header(h);
    assert_string_equal(h, "usr/bin/b");
    assert_int_equal(h[156], '1');
    assert_string_equal(h + 157, "usr/bin/a");
    assert_memory_equal(h + 124, "00000000000\0", 12);
    tb_free(&t);

    tb_init(&t);
    struct kiln_tar_entry sl = {
        .path = "lib", .linkname = "usr/lib", .type = KILN_TAR_SYMLINK, .mode = 0777
    };
    put(&t, &sl, NULL);
    h = tb_data(&t);
    check_header(h);
    assert_int_equal(tb_len(&t), BLOCK);
    assert_int_equal(h[156], '2');
    assert_string_equal(h + 157, "usr/lib");
    assert_memory_equal(h + 100, "0000777\0", 8);
    tb_free(&t);

    /* a link target of exactly 100 bytes fills the field without PAX */
    char *l100 = repeat_path(100, 'l');
    tb_init(&t);
    sl.linkname = l100;
    put(&t, &sl, NULL);
    assert_int_equal(tb_len(&t), BLOCK);
    assert_memory_equal(tb_data(&t) + 157, l100, 100);
    tb_free(&t);
    free(l100);
}

static void test_devices(void **state)
{
    (void)state;
    struct tb t;
    tb_init(&t);
    struct kiln_tar_entry c = {
        .path = "dev/null", .type = KILN_TAR_CHR, .mode = 0666, .devmajor = 1, .devminor = 3
    };
    struct kiln_tar_entry b = { .path = "dev/nvme0n1",
                                .type = KILN_TAR_BLK,
                                .mode = 0660,
                                .gid = 6,
                                .devmajor = 259,
                                .devminor = 1048575 };
    struct kiln_tar_entry f = { .path = "run/fifo", .type = KILN_TAR_FIFO, .mode = 0600 };
    put(&t, &c, NULL);
    put(&t, &b, NULL);
    put(&t, &f, NULL);
    assert_int_equal(tb_len(&t), 3 * BLOCK);
    const char *h = tb_data(&t);
    check_header(h);
    assert_int_equal(h[156], '3');
    assert_memory_equal(h + 329, "0000001\0", 8);
    assert_memory_equal(h + 337, "0000003\0", 8);
    assert_memory_equal(h + 124, "00000000000\0", 12);
    h += BLOCK;
    check_header(h);
    assert_int_equal(h[156], '4');
    assert_memory_equal(h + 116, "0000006\0", 8);
    assert_memory_equal(h + 329, "0000403\0", 8);
    assert_memory_equal(h + 337, "3777777\0", 8);
    h += BLOCK;
    check_header(h);
    assert_int_equal(h[156], '6');
    assert_memory_equal(h + 329, "0000000\0", 8);
    tb_free(&t);
}

/* ---- PAX -------------------------------------------------------------- */

static void test_pax_long_path(void **state)
{
    (void)state;
    char *path = repeat_path(150, 'p');
    memcpy(path + 140, "file.name0", 10); /* path[139] is '/': base "file.name0" */
    struct tb t;
    tb_init(&t);
    struct kiln_tar_entry e = {
        .path = path, .type = KILN_TAR_REG, .mode = 0644, .size = 3, .mtime = 1700000000
    };
    put(&t, &e, "abc");
    struct parsed p;
    parse_entry(tb_data(&t), tb_len(&t), 0, &p);
    assert_non_null(p.x);
    /* the extended header itself */
    assert_string_equal(p.x, "PaxHeaders/file.name0");
    assert_memory_equal(p.x + 100, "0000644\0", 8);
    assert_memory_equal(p.x + 108, "0000000\0", 8);
    assert_memory_equal(p.x + 116, "0000000\0", 8);
    assert_memory_equal(p.x + 136, "14524770400\0", 12);
    /* exactly one record: "160 path=<150 bytes>\n" (4+150+3 = 157, +3 digits) */
    assert_int_equal(p.nrec, 1);
    assert_int_equal(p.pax_len, 160);
    assert_memory_equal(p.pax, "160 path=", 9);
    assert_rec(&p, "path", path, 150);
    /* the ustar name holds the first 100 bytes */
    assert_memory_equal(p.h, path, 100);
    assert_int_equal(p.h[156], '0');
    assert_memory_equal(p.h + 124, "00000000003\0", 12);
    assert_memory_equal(tb_data(&t) + p.next, "abc", 3);
    assert_int_equal(tb_len(&t), p.next + BLOCK);
    tb_free(&t);
    free(path);
}

static void test_pax_long_linkname(void **state)
{
    (void)state;
    char *target = repeat_path(300, 't');
    struct tb t;
    tb_init(&t);
    struct kiln_tar_entry e = {
        .path = "usr/lib/l", .linkname = target, .type = KILN_TAR_SYMLINK, .mode = 0777
    };
    put(&t, &e, NULL);
    struct parsed p;
    parse_entry(tb_data(&t), tb_len(&t), 0, &p);
    assert_non_null(p.x);
    assert_string_equal(p.x, "PaxHeaders/l");
    assert_int_equal(p.nrec, 1);
    /* 8 + 300 + 3 = 311, + 3 digits = 314 */
    assert_int_equal(p.rec[0].reclen, 314);
    assert_memory_equal(p.pax, "314 linkpath=", 13);
    assert_rec(&p, "linkpath", target, 300);
    assert_null(rec_find(&p, "path"));
    assert_string_equal(p.h, "usr/lib/l");
    assert_int_equal(p.h[156], '2');
    assert_memory_equal(p.h + 157, target, 100);
    assert_int_equal(tb_len(&t), p.next);
    tb_free(&t);

    /* the same for a hardlink */
    tb_init(&t);
    struct kiln_tar_entry h = {
        .path = "b", .linkname = target, .type = KILN_TAR_HARDLINK, .mode = 0644
    };
    put(&t, &h, NULL);
    parse_entry(tb_data(&t), tb_len(&t), 0, &p);
    assert_rec(&p, "linkpath", target, 300);
    assert_int_equal(p.h[156], '1');
    tb_free(&t);
    free(target);
}

static void test_pax_ids(void **state)
{
    (void)state;
    struct tb t;
    tb_init(&t);
    /* 2097151 = 07777777 is the largest ustar id: no PAX */
    struct kiln_tar_entry e = {
        .path = "f", .type = KILN_TAR_REG, .mode = 0644, .uid = 2097151, .gid = 2097151
    };
    put(&t, &e, NULL);
    assert_int_equal(tb_len(&t), BLOCK);
    assert_memory_equal(tb_data(&t) + 108, "7777777\0", 8);
    assert_memory_equal(tb_data(&t) + 116, "7777777\0", 8);
    tb_free(&t);

    tb_init(&t);
    e.uid = 3000000;
    e.gid = 2097151;
    put(&t, &e, NULL);
    struct parsed p;
    parse_entry(tb_data(&t), tb_len(&t), 0, &p);
    assert_non_null(p.x);
    assert_int_equal(p.nrec, 1);
    assert_int_equal(p.pax_len, 15);
    assert_memory_equal(p.pax, "15 uid=3000000\n", 15);
    assert_memory_equal(p.h + 108, "0000000\0", 8);
    assert_memory_equal(p.h + 116, "7777777\0", 8);
    tb_free(&t);

    tb_init(&t);
    e.uid = 2097152;
    e.gid = 4294967295u;
    put(&t, &e, NULL);
    parse_entry(tb_data(&t), tb_len(&t), 0, &p);
    assert_int_equal(p.nrec, 2);
    assert_string_equal(p.rec[0].key, "gid");
    assert_string_equal(p.rec[1].key, "uid");
    assert_rec_str(&p, "gid", "4294967295");
    assert_rec_str(&p, "uid", "2097152");
    assert_memory_equal(p.h + 108, "0000000\0", 8);
    assert_memory_equal(p.h + 116, "0000000\0", 8);
    tb_free(&t);
}

static void test_pax_size(void **state)
{
    (void)state;
    const uint64_t eight_gib = 8ULL << 30;
    struct kiln_error err = { 0 };
    struct tb t;
    tb_init(&t);
    struct kiln_tar_entry e = {
        .path = "big", .type = KILN_TAR_REG, .mode = 0644, .size = eight_gib - 1
    };
    assert_int_equal(kiln_tar_write_header(&t.w, &e, &err), 0);
    assert_int_equal(tb_len(&t), BLOCK);
    assert_memory_equal(tb_data(&t) + 124, "77777777777\0", 12);
    assert_int_equal(t.w.remaining, eight_gib - 1);
    tb_free(&t);

    tb_init(&t);
    e.size = eight_gib;
    assert_int_equal(kiln_tar_write_header(&t.w, &e, &err), 0);
    assert_int_equal(t.w.remaining, eight_gib);
    struct parsed p;
    parse_entry(tb_data(&t), tb_len(&t), 0, &p);
    assert_non_null(p.x);
    assert_int_equal(p.nrec, 1);
    assert_memory_equal(p.pax, "19 size=8589934592\n", 19);
    assert_int_equal(p.pax_len, 19);
    assert_memory_equal(p.h + 124, "00000000000\0", 12);
    assert_int_equal(tb_len(&t), p.next);

    /* libarchive reads the size from the PAX record */
    struct archive *a = archive_read_new();
    assert_non_null(a);
    archive_read_support_format_tar(a);
    assert_int_equal(archive_read_open_memory(a, tb_data(&t), tb_len(&t)), ARCHIVE_OK);
    struct archive_entry *ae;
    assert_int_equal(archive_read_next_header(a, &ae), ARCHIVE_OK);
    assert_string_equal(archive_entry_pathname(ae), "big");
    assert_true(archive_entry_size_is_set(ae));
    assert_int_equal(archive_entry_size(ae), (int64_t)eight_gib);
    archive_read_free(a);
    tb_free(&t);
}

static void test_pax_mtime(void **state)
{
    (void)state;
    struct tb t;
    struct parsed p;

    tb_init(&t);
    struct kiln_tar_entry e = { .path = "old", .type = KILN_TAR_REG, .mode = 0644, .mtime = -1 };
    put(&t, &e, NULL);
    parse_entry(tb_data(&t), tb_len(&t), 0, &p);
    assert_non_null(p.x);
    /* "mtime=-1": 5+2+3 = 10, so the length needs two digits: 12 */
    assert_int_equal(p.pax_len, 12);
    assert_memory_equal(p.pax, "12 mtime=-1\n", 12);
    assert_memory_equal(p.h + 136, "00000000000\0", 12);
    assert_memory_equal(p.x + 136, "00000000000\0", 12);
    tb_free(&t);

    tb_init(&t);
    e.mtime = -1234567890123LL;
    put(&t, &e, NULL);
    parse_entry(tb_data(&t), tb_len(&t), 0, &p);
    assert_rec_str(&p, "mtime", "-1234567890123");
    tb_free(&t);

    /* 8^11-1 fits, 8^11 does not */
    tb_init(&t);
    e.mtime = 077777777777LL;
    put(&t, &e, NULL);
    assert_int_equal(tb_len(&t), BLOCK);
    assert_memory_equal(tb_data(&t) + 136, "77777777777\0", 12);
    tb_free(&t);

    tb_init(&t);
    e.mtime = 077777777777LL + 1;
    put(&t, &e, NULL);
    parse_entry(tb_data(&t), tb_len(&t), 0, &p);
    assert_int_equal(p.nrec, 1);
    assert_rec_str(&p, "mtime", "8589934592");
    assert_memory_equal(p.h + 136, "00000000000\0", 12);
    assert_memory_equal(p.x + 136, "00000000000\0", 12);
    tb_free(&t);
}

/* struct vfs_cap_data v2: magic 0x02000002, permitted cap_net_bind_service. */
static const unsigned char cap_value[20] = { 0x01, 0x00, 0x00, 0x02, 0x00, 0x04, 0x00,
                                             0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                             0x00, 0x00, 0x00, 0x00, 0x00, 0x00 };

static void test_pax_xattrs(void **state)
{
    (void)state;
    struct kiln_xattr x[2] = {
        { .name = (char *)"security.capability", .value = (unsigned char *)cap_value, .len = 20 },
        { .name = (char *)"user.mime_type", .value = (unsigned char *)"text/plain", .len = 10 },
    };
    struct tb t;
    tb_init(&t);
    struct kiln_tar_entry e = { .path = "usr/bin/ping",
                                .type = KILN_TAR_REG,
                                .mode = 0755,
                                .size = 2,
                                .xattrs = x,
                                .nxattrs = 2 };
    put(&t, &e, "hi");
    struct parsed p;
    parse_entry(tb_data(&t), tb_len(&t), 0, &p);
    assert_non_null(p.x);
    assert_int_equal(p.nrec, 2);
    /* "SCHILY.xattr.security.capability" is 32 bytes: 32+20+3 = 55, +2 = 57 */
    unsigned char want[57];
    memcpy(want, "57 SCHILY.xattr.security.capability=", 36);
    memcpy(want + 36, cap_value, 20);
    want[56] = '\n';
    assert_memory_equal(p.pax, want, 57);
    assert_string_equal(p.rec[1].key, "SCHILY.xattr.user.mime_type");
    assert_rec_str(&p, "SCHILY.xattr.user.mime_type", "text/plain");
    assert_int_equal(p.pax_len, 57 + p.rec[1].reclen);
    assert_string_equal(p.h, "usr/bin/ping");
    assert_memory_equal(tb_data(&t) + p.next, "hi", 2);
    tb_free(&t);

    /* an empty xattr value is still a record */
    struct kiln_xattr empty = { .name = (char *)"user.empty", .value = NULL, .len = 0 };
    tb_init(&t);
    e.xattrs = &empty;
    e.nxattrs = 1;
    e.size = 0;
    put(&t, &e, NULL);
    parse_entry(tb_data(&t), tb_len(&t), 0, &p);
    assert_int_equal(p.nrec, 1);
    assert_memory_equal(p.pax, "28 SCHILY.xattr.user.empty=\n", 28);
    tb_free(&t);
}

/* Writes one xattr of vlen bytes and returns the record length. */
static size_t xattr_reclen(size_t vlen)
{
    unsigned char *v = malloc(vlen ? vlen : 1);
    assert_non_null(v);
    memset(v, 'v', vlen);
    struct kiln_xattr x = { .name = (char *)"user.k", .value = v, .len = vlen };
    struct tb t;
    tb_init(&t);
    struct kiln_tar_entry e = {
        .path = "f", .type = KILN_TAR_REG, .mode = 0644, .xattrs = &x, .nxattrs = 1
    };
    put(&t, &e, NULL);
    struct parsed p;
    parse_entry(tb_data(&t), tb_len(&t), 0, &p); /* checks prefix == actual length */
    assert_int_equal(p.nrec, 1);
    assert_int_equal(p.rec[0].vlen, vlen);
    assert_int_equal(p.pax_len, p.rec[0].reclen);
    size_t r = p.rec[0].reclen;
    tb_free(&t);
    free(v);
    return r;
}

static void test_pax_record_length_digits(void **state)
{
    (void)state;
    /* key "SCHILY.xattr.user.k" is 19 bytes; a record is LEN + 1 + 19 + 1 + vlen + 1 */
    assert_int_equal(xattr_reclen(74), 98);
    assert_int_equal(xattr_reclen(75), 99);  /* 97 + 2 digits = 99 */
    assert_int_equal(xattr_reclen(76), 101); /* 98 + 2 = 100 needs 3 digits: 101 */
    assert_int_equal(xattr_reclen(77), 102);
    assert_int_equal(xattr_reclen(974), 999);  /* 996 + 3 */
    assert_int_equal(xattr_reclen(975), 1001); /* 997 + 3 = 1000 needs 4: 1001 */
    assert_int_equal(xattr_reclen(976), 1002);
    /* spanning several 512-byte blocks of extended header */
    assert_int_equal(xattr_reclen(1500), 1526);
}

static void test_pax_hdrcharset(void **state)
{
    (void)state;
    struct tb t;
    struct parsed p;

    /* a long name that is not UTF-8 */
    char *bin = repeat_path(150, 'b');
    bin[120] = (char)0xff;
    bin[121] = (char)0xfe;
    tb_init(&t);
    struct kiln_tar_entry e = { .path = bin, .type = KILN_TAR_REG, .mode = 0644 };
    put(&t, &e, NULL);
    parse_entry(tb_data(&t), tb_len(&t), 0, &p);
    assert_int_equal(p.nrec, 2);
    assert_string_equal(p.rec[0].key, "hdrcharset");
    assert_rec_str(&p, "hdrcharset", "BINARY");
    assert_string_equal(p.rec[1].key, "path");
    assert_rec(&p, "path", bin, 150);
    tb_free(&t);

    /* a long valid UTF-8 name: no hdrcharset */
    char utf[160];
    memset(utf, 'u', 140);
    memcpy(utf + 140, "/\xc3\xa9t\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 14);
    utf[154] = '\0';
    tb_init(&t);
    e.path = utf;
    put(&t, &e, NULL);
    parse_entry(tb_data(&t), tb_len(&t), 0, &p);
    assert_int_equal(p.nrec, 1);
    assert_null(rec_find(&p, "hdrcharset"));
    assert_rec_str(&p, "path", utf);
    tb_free(&t);

    /* a short non-UTF-8 name fits ustar as is: no extended header */
    tb_init(&t);
    e.path = "caf\xe9";
    put(&t, &e, NULL);
    assert_int_equal(tb_len(&t), BLOCK);
    assert_string_equal(tb_data(&t), "caf\xe9");
    tb_free(&t);

    /* a long non-UTF-8 link target */
    char *lt = repeat_path(200, 'l');
    lt[150] = (char)0x80;
    tb_init(&t);
    struct kiln_tar_entry s = {
        .path = "s", .linkname = lt, .type = KILN_TAR_SYMLINK, .mode = 0777
    };
    put(&t, &s, NULL);
    parse_entry(tb_data(&t), tb_len(&t), 0, &p);
    assert_int_equal(p.nrec, 2);
    assert_rec_str(&p, "hdrcharset", "BINARY");
    assert_rec(&p, "linkpath", lt, 200);
    tb_free(&t);
    free(lt);
    free(bin);
}

/* Overlong forms, UTF-16 surrogates and code points above U+10FFFF are not
 * UTF-8 either (RFC 3629); a PAX path holding them must say BINARY. */
static void test_pax_hdrcharset_strict_utf8(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "\xe0\x80\xaf",     /* overlong "/" */
        "\xed\xa0\x80",     /* U+D800, a surrogate */
        "\xf4\x90\x80\x80", /* U+110000 */
        "\xf0\x80\x80\xaf", /* overlong "/" in four bytes */
    };
    char missing[256] = "";
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        char *path = repeat_path(150, 'x');
        memcpy(path + 130, bad[i], strlen(bad[i]));
        struct tb t;
        tb_init(&t);
        struct kiln_tar_entry e = { .path = path, .type = KILN_TAR_REG, .mode = 0644 };
        put(&t, &e, NULL);
        struct parsed p;
        parse_entry(tb_data(&t), tb_len(&t), 0, &p);
        const struct pax_rec *r = rec_find(&p, "hdrcharset");
        if (!r || r->vlen != 6 || memcmp(r->val, "BINARY", 6)) {
            size_t l = strlen(missing);
            snprintf(missing + l, sizeof(missing) - l, " [%02x %02x %02x]",
                     (unsigned char)bad[i][0], (unsigned char)bad[i][1], (unsigned char)bad[i][2]);
        }
        tb_free(&t);
        free(path);
    }
    if (missing[0])
        fail_msg("long paths holding invalid UTF-8 went out without hdrcharset=BINARY:%s", missing);
}

static void test_pax_record_order(void **state)
{
    (void)state;
    char *path = repeat_path(130, 'o');
    path[5] = (char)0xc0; /* not UTF-8 */
    char *target = repeat_path(120, 't');
    struct kiln_xattr x[2] = {
        { .name = (char *)"security.capability", .value = (unsigned char *)cap_value, .len = 20 },
        { .name = (char *)"user.a", .value = (unsigned char *)"1", .len = 1 },
    };
    struct tb t;
    tb_init(&t);
    struct kiln_tar_entry e = { .path = path,
                                .linkname = target,
                                .type = KILN_TAR_HARDLINK,
                                .mode = 0644,
                                .uid = 5000000,
                                .gid = 6000000,
                                .mtime = -5,
                                .xattrs = x,
                                .nxattrs = 2 };
    put(&t, &e, NULL);
    struct parsed p;
    parse_entry(tb_data(&t), tb_len(&t), 0, &p);
    static const char *const order[] = { "SCHILY.xattr.security.capability",
                                         "SCHILY.xattr.user.a",
                                         "gid",
                                         "hdrcharset",
                                         "linkpath",
                                         "mtime",
                                         "path",
                                         "uid" };
    assert_int_equal(p.nrec, ARRAY_SIZE(order));
    for (size_t i = 0; i < ARRAY_SIZE(order); i++)
        assert_string_equal(p.rec[i].key, order[i]);
    assert_rec_str(&p, "gid", "6000000");
    assert_rec_str(&p, "uid", "5000000");
    assert_rec_str(&p, "mtime", "-5");
    assert_rec(&p, "linkpath", target, 120);
    assert_rec(&p, "path", path, 130);

    /* the same entry again gives the same bytes */
    struct tb t2;
    tb_init(&t2);
    put(&t2, &e, NULL);
    assert_int_equal(tb_len(&t2), tb_len(&t));
    assert_memory_equal(tb_data(&t2), tb_data(&t), tb_len(&t));
    tb_free(&t2);
    tb_free(&t);

    /* size sorts between path and uid */
    tb_init(&t);
    struct kiln_tar_entry r = {
        .path = path, .type = KILN_TAR_REG, .mode = 0644, .uid = 5000000, .size = 9ULL << 30
    };
    struct kiln_error err = { 0 };
    assert_int_equal(kiln_tar_write_header(&t.w, &r, &err), 0);
    parse_entry(tb_data(&t), tb_len(&t), 0, &p);
    assert_int_equal(p.nrec, 4);
    assert_string_equal(p.rec[0].key, "hdrcharset");
    assert_string_equal(p.rec[1].key, "path");
    assert_string_equal(p.rec[2].key, "size");
    assert_string_equal(p.rec[3].key, "uid");
    assert_rec_str(&p, "size", "9663676416");
    tb_free(&t);
    free(path);
    free(target);
}

static void test_pax_header_name(void **state)
{
    (void)state;
    /* the extended header's name is PaxHeaders/<base>, cut to 100 bytes */
    char *path = repeat_path(110, 'n');
    for (size_t i = 0; i < 110; i++)
        if (path[i] == '/')
            path[i] = 'n'; /* one 110-byte component */
    struct tb t;
    tb_init(&t);
    struct kiln_tar_entry e = { .path = path, .type = KILN_TAR_REG, .mode = 0644 };
    put(&t, &e, NULL);
    struct parsed p;
    parse_entry(tb_data(&t), tb_len(&t), 0, &p);
    assert_memory_equal(p.x, "PaxHeaders/", 11);
    assert_memory_equal(p.x + 11, path, 89);
    assert_int_equal(p.x[156], 'x');
    tb_free(&t);
    free(path);
}

static void test_add_helpers(void **state)
{
    (void)state;
    struct tb t;
    tb_init(&t);
    struct kiln_error err = { 0 };
    assert_int_equal(kiln_tar_add_dir(&t.w, "blobs", 42, &err), 0);
    assert_int_equal(kiln_tar_add_bytes(&t.w, "blobs/x", "data", 4, 42, &err), 0);
    assert_int_equal(tb_len(&t), 3 * BLOCK);
    const char *h = tb_data(&t);
    assert_string_equal(h, "blobs/");
    assert_int_equal(h[156], '5');
    assert_memory_equal(h + 100, "0000755\0", 8);
    assert_memory_equal(h + 136, "00000000052\0", 12);
    h += BLOCK;
    check_header(h);
    assert_string_equal(h, "blobs/x");
    assert_int_equal(h[156], '0');
    assert_memory_equal(h + 100, "0000644\0", 8);
    assert_memory_equal(h + 124, "00000000004\0", 12);
    assert_memory_equal(h + BLOCK, "data", 4);
    tb_free(&t);
}

/* ---- round trip through libarchive ------------------------------------ */

static void test_libarchive_roundtrip(void **state)
{
    (void)state;
    char *longp = repeat_path(150, 'q');
    char *target = repeat_path(300, 't');
    char *binp = repeat_path(160, 'z');
    binp[155] = (char)0xff;
    unsigned char *payload = malloc(600);
    assert_non_null(payload);
    for (size_t i = 0; i < 600; i++)
        payload[i] = (unsigned char)(i * 7);
    struct kiln_xattr x[2] = {
        { .name = (char *)"security.capability", .value = (unsigned char *)cap_value, .len = 20 },
        { .name = (char *)"user.x", .value = (unsigned char *)"v\0w", .len = 3 },
    };

    struct tb t;
    tb_init(&t);
    struct kiln_tar_entry ents[] = {
        { .path = "d", .type = KILN_TAR_DIR, .mode = 0755, .mtime = 1700000000 },
        { .path = "d/f",
          .type = KILN_TAR_REG,
          .mode = 04755,
          .uid = 1000,
          .gid = 1001,
          .mtime = 1700000001,
          .size = 11,
          .xattrs = x,
          .nxattrs = 2 },
        { .path = "d/h",
          .linkname = "d/f",
          .type = KILN_TAR_HARDLINK,
          .mode = 04755,
          .uid = 1000,
          .gid = 1001,
          .mtime = 1700000001 },
        { .path = "d/l", .linkname = target, .type = KILN_TAR_SYMLINK, .mode = 0777 },
        { .path = "d/null", .type = KILN_TAR_CHR, .mode = 0666, .devmajor = 1, .devminor = 3 },
        { .path = "d/p", .type = KILN_TAR_FIFO, .mode = 0600 },
        { .path = longp,
          .type = KILN_TAR_REG,
          .mode = 0600,
          .uid = 3000000,
          .gid = 3000001,
          .mtime = -1,
          .size = 600 },
        { .path = binp, .type = KILN_TAR_REG, .mode = 0644 },
    };
    const void *data[ARRAY_SIZE(ents)] = { [1] = "hello world", [6] = payload };
    for (size_t i = 0; i < ARRAY_SIZE(ents); i++)
        put(&t, &ents[i], data[i]);
    struct kiln_error err = { 0 };
    assert_int_equal(kiln_tar_finish(&t.w, &err), 0);
    assert_int_equal(tb_len(&t) % BLOCK, 0);

    struct archive *a = archive_read_new();
    assert_non_null(a);
    archive_read_support_format_tar(a);
    assert_int_equal(archive_read_open_memory(a, tb_data(&t), tb_len(&t)), ARCHIVE_OK);
    struct archive_entry *ae;
    for (size_t i = 0; i < ARRAY_SIZE(ents); i++) {
        const struct kiln_tar_entry *e = &ents[i];
        int r = archive_read_next_header(a, &ae);
        if (r != ARCHIVE_OK)
            fail_msg("entry %zu: %s", i, archive_error_string(a));
        char want[400];
        snprintf(want, sizeof(want), "%s%s", e->path, e->type == KILN_TAR_DIR ? "/" : "");
        assert_string_equal(archive_entry_pathname(ae), want);
        assert_int_equal(archive_entry_perm(ae), e->mode);
        assert_int_equal(archive_entry_uid(ae), (int64_t)e->uid);
        assert_int_equal(archive_entry_gid(ae), (int64_t)e->gid);
        assert_int_equal(archive_entry_mtime(ae), e->mtime);
        assert_true(!archive_entry_uname(ae) || !*archive_entry_uname(ae));
        assert_true(!archive_entry_gname(ae) || !*archive_entry_gname(ae));
        switch (e->type) {
        case KILN_TAR_HARDLINK:
            assert_string_equal(archive_entry_hardlink(ae), e->linkname);
            assert_int_equal(archive_entry_size(ae), 0);
            break;
        case KILN_TAR_SYMLINK:
            assert_int_equal(archive_entry_filetype(ae), AE_IFLNK);
            assert_string_equal(archive_entry_symlink(ae), e->linkname);
            break;
        case KILN_TAR_DIR:
            assert_int_equal(archive_entry_filetype(ae), AE_IFDIR);
            break;
        case KILN_TAR_CHR:
            assert_int_equal(archive_entry_filetype(ae), AE_IFCHR);
            assert_int_equal(archive_entry_rdevmajor(ae), 1);
            assert_int_equal(archive_entry_rdevminor(ae), 3);
            break;
        case KILN_TAR_FIFO:
            assert_int_equal(archive_entry_filetype(ae), AE_IFIFO);
            break;
        default:
            assert_int_equal(archive_entry_filetype(ae), AE_IFREG);
            assert_null(archive_entry_hardlink(ae));
            assert_int_equal(archive_entry_size(ae), (int64_t)e->size);
            unsigned char got[700];
            la_ssize_t n = archive_read_data(a, got, sizeof(got));
            assert_int_equal(n, (la_ssize_t)e->size);
            if (e->size)
                assert_memory_equal(got, data[i], e->size);
            break;
        }
        int nx = archive_entry_xattr_reset(ae);
        assert_int_equal(nx, (int)e->nxattrs);
        bool seen[2] = { false, false };
        for (size_t k = 0; k < e->nxattrs; k++) {
            const char *xn;
            const void *xv;
            size_t xl;
            assert_int_equal(archive_entry_xattr_next(ae, &xn, &xv, &xl), ARCHIVE_OK);
            size_t m = 0;
            while (m < e->nxattrs && strcmp(xn, e->xattrs[m].name))
                m++;
            if (m == e->nxattrs)
                fail_msg("entry %zu: unexpected xattr %s", i, xn);
            assert_false(seen[m]);
            seen[m] = true;
            assert_int_equal(xl, e->xattrs[m].len);
            assert_memory_equal(xv, e->xattrs[m].value, xl);
        }
    }
    assert_int_equal(archive_read_next_header(a, &ae), ARCHIVE_EOF);
    archive_read_free(a);
    tb_free(&t);
    free(payload);
    free(longp);
    free(target);
    free(binp);
}

/* ---- ordering --------------------------------------------------------- */

static int sgn(int v)
{
    return (v > 0) - (v < 0);
}

static void test_path_cmp_pairs(void **state)
{
    (void)state;
    /* '/' sorts before every other byte, so a directory's subtree comes
     * right after it, before its siblings that share the prefix. */
    static const char *const ascending[][2] = {
        { "", "a" },
        { "a", "a/b" },
        { "a/b", "a-b" },
        { "a-b", "a.b" },
        { "a", "a.b" },
        { "a", "a-b" },
        { "a/b", "a/b/c" },
        { "a/b/c", "a/c" },
        { "a/z", "a-b" },
        { "a/zzz/zzz", "a0" },
        { "a/b", "a/b.c" },
        { "a/b/c", "a/b.c" },
        { "A", "a" },
        { "z", "\xff" },
        { "a/", "a\x01" },
        { "a/\xff", "a!" },
        { "usr/bin", "usr/bin/x" },
        { "usr/bin/zz", "usr/bin-x" },
    };
    for (size_t i = 0; i < ARRAY_SIZE(ascending); i++) {
        const char *x = ascending[i][0], *y = ascending[i][1];
        if (!(kiln_tar_path_cmp(x, y) < 0 && kiln_tar_path_cmp(y, x) > 0))
            fail_msg("expected '%s' < '%s' (got %d, %d)", x, y, kiln_tar_path_cmp(x, y),
                     kiln_tar_path_cmp(y, x));
    }
    assert_int_equal(kiln_tar_path_cmp("a/b", "a/b"), 0);
    assert_int_equal(kiln_tar_path_cmp("", ""), 0);
    assert_int_equal(sgn(kiln_tar_path_cmp("a", "a")), 0);
}

static const char *const depth_first[] = {
    "a",
    "a/b",
    "a/b/c",
    "a/b/c/d",
    "a/b-c",
    "a/b.c",
    "a/bc",
    "a-b",
    "a-b/x",
    "a.b",
    "a.b/y",
    "a0",
    "b",
    "b/\x01",
    "b/a",
    "b/a/a",
    "b/a-",
    "b/a.",
    "b!",
    "etc",
    "etc/passwd",
    "etc/ssl",
    "etc/ssl/certs",
    "etc/ssl/certs/ca.pem",
    "etc/ssl.d",
    "usr",
    "usr/bin",
    "usr/bin/env",
    "usr/bin-old",
    "usr/lib",
    "usr/lib/x86_64-linux-gnu",
    "usr/lib/x86_64-linux-gnu/libc.so.6",
    "usr/lib64",
    "\xc3\xa9",
    "\xc3\xa9/x",
};

static int cmp_str(const void *a, const void *b)
{
    return kiln_tar_path_cmp(*(const char *const *)a, *(const char *const *)b);
}

static bool is_prefix_dir(const char *dir, const char *p)
{
    size_t n = strlen(dir);
    return !strncmp(dir, p, n) && p[n] == '/';
}

static void test_path_cmp_sort(void **state)
{
    (void)state;
    size_t n = ARRAY_SIZE(depth_first);
    const char **v = malloc(n * sizeof(*v));
    assert_non_null(v);
    uint32_t seed = 12345;
    for (int round = 0; round < 50; round++) {
        memcpy(v, depth_first, n * sizeof(*v));
        for (size_t i = n - 1; i > 0; i--) { /* Fisher-Yates */
            seed = seed * 1103515245u + 12345u;
            size_t j = (seed >> 8) % (i + 1);
            const char *tmp = v[i];
            v[i] = v[j];
            v[j] = tmp;
        }
        qsort(v, n, sizeof(*v), cmp_str);
        for (size_t i = 0; i < n; i++)
            assert_string_equal(v[i], depth_first[i]);
    }
    /* a valid depth-first order: every parent precedes its children, and a
     * subtree is contiguous (nothing outside it sits between its members) */
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < n; j++) {
            if (is_prefix_dir(v[i], v[j]))
                assert_true(i < j);
        }
        size_t last = i;
        for (size_t j = i + 1; j < n; j++)
            if (is_prefix_dir(v[i], v[j]))
                last = j;
        for (size_t j = i + 1; j <= last; j++)
            if (!is_prefix_dir(v[i], v[j]))
                fail_msg("'%s' sits inside the subtree of '%s'", v[j], v[i]);
    }
    free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ustar_regular),     cmocka_unit_test(test_mode_bits),
        cmocka_unit_test(test_data_padding),      cmocka_unit_test(test_writer_misuse),
        cmocka_unit_test(test_directory),         cmocka_unit_test(test_links),
        cmocka_unit_test(test_devices),           cmocka_unit_test(test_pax_long_path),
        cmocka_unit_test(test_pax_long_linkname), cmocka_unit_test(test_pax_ids),
        cmocka_unit_test(test_pax_size),          cmocka_unit_test(test_pax_mtime),
        cmocka_unit_test(test_pax_xattrs),        cmocka_unit_test(test_pax_record_length_digits),
        cmocka_unit_test(test_pax_hdrcharset),    cmocka_unit_test(test_pax_hdrcharset_strict_utf8),
        cmocka_unit_test(test_pax_record_order),  cmocka_unit_test(test_pax_header_name),
        cmocka_unit_test(test_add_helpers),       cmocka_unit_test(test_libarchive_roundtrip),
        cmocka_unit_test(test_path_cmp_pairs),    cmocka_unit_test(test_path_cmp_sort),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
