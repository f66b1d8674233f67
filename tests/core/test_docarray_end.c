/*
 * test_docarray_end.c - the end rule of core/docarray/ (docs/FORMAT.md 1.5
 * rule 8) and bounded disk use:
 *  - random put/replace/append/truncate/extend/delete/rename/compact/reopen
 *    sequences, checked after every step against a content model and
 *    against an independent reader of the files by DocArray's rules: the
 *    array opens (no tombstone last), lists the model's documents in order,
 *    and DocArray's next append (at p + e of the last row) overwrites no
 *    live byte;
 *  - appends extend the last document in place (body.bin grows by the
 *    appended bytes only), cutting it short rewrites its row only, a write
 *    past the end leaves a hole;
 *  - deleting the last row of an array whose rows do not end in order
 *    (as DocArray's own updates leave it) keeps the rule;
 *  - arrayctl check warns about arrays that break the rule;
 *  - a read-only handle survives another handle truncating header.bin;
 *  - automatic compaction bounds body.bin.
 * Seeds are fixed and printed on failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "docarray.h"
#include "testutil.h"
#include "util.h"

#define K 36
#define ROW (4 * K + 24)
#define NNAMES 6

static char *scratch;
static unsigned seed, seed0; /* the state; the seed a sequence began with */

static uint64_t rnd(void)
{
	seed = seed * 1103515245u + 12345u;
	return (seed >> 8) & 0xFFFFFF;
}

static char *path_in(const char *dir, const char *file)
{
	char *p;

	if (asprintf(&p, "%s/%s", dir, file) < 0)
		abort();
	return p;
}

static uint8_t *slurp(const char *dir, const char *file, size_t *len)
{
	char *p = path_in(dir, file);
	uint8_t *b = tu_readfile(p, len);

	free(p);
	return b;
}

static off_t fsize(const char *dir, const char *file)
{
	char *p = path_in(dir, file);
	struct stat st;
	off_t n = stat(p, &st) ? -1 : st.st_size;

	free(p);
	return n;
}

static char *new_dir(const char *tag)
{
	static int seq;
	char *d;

	if (asprintf(&d, "%s/%s-%d", scratch, tag, seq++) < 0)
		abort();
	return d;
}

/* ---- the model ---- */

struct doc {
	char name[16];
	uint8_t *data;
	size_t len;
};

struct model {
	struct doc d[64];
	size_t n;
};

static ssize_t mfind(const struct model *m, const char *name)
{
	size_t i;

	for (i = 0; i < m->n; i++)
		if (!strcmp(m->d[i].name, name))
			return (ssize_t)i;
	return -1;
}

static void mset(struct model *m, const char *name, const uint8_t *data,
		 size_t len, bool to_end)
{
	ssize_t i = mfind(m, name);
	struct doc t;

	if (i < 0) {
		i = (ssize_t)m->n++;
		snprintf(m->d[i].name, sizeof(m->d[i].name), "%s", name);
		m->d[i].data = NULL;
	}
	free(m->d[i].data);
	m->d[i].data = malloc(len + 1);
	memcpy(m->d[i].data, data, len);
	m->d[i].len = len;
	if (to_end) {
		t = m->d[i];
		memmove(&m->d[i], &m->d[i + 1], (m->n - (size_t)i - 1) * sizeof(t));
		m->d[m->n - 1] = t;
	}
}

static void mdel_at(struct model *m, size_t i)
{
	free(m->d[i].data);
	memmove(&m->d[i], &m->d[i + 1], (m->n - i - 1) * sizeof(m->d[0]));
	m->n--;
}

static void mfree(struct model *m)
{
	while (m->n)
		mdel_at(m, m->n - 1);
}

/* ---- DocArray's rules, read from the files ---- */

/*
 * Check the files by DocArray's reading and append rules: header.bin whole
 * rows; the last row not a tombstone; documents (first position, last
 * version) equal the model in order; p + e of the last row >= the end of
 * every live document's bytes.
 */
static void check_rules(const char *dir, const struct model *m,
			const char *what)
{
	size_t hlen, blen, nrows, i, j, n = 0;
	uint8_t *h = slurp(dir, "header.bin", &hlen);
	uint8_t *b = slurp(dir, "body.bin", &blen);
	char ids[64][K + 1];
	int64_t ext[64][2];
	uint64_t maxend = 0, next = 0;

	if (!b)
		b = calloc(1, 1);
	if (!h || hlen % ROW)
		fail_msg("seed %u, %s: header.bin size %zu", seed0, what, hlen);
	nrows = hlen / ROW;
	for (i = 0; i < nrows; i++) {
		const uint8_t *r = h + i * ROW;
		char id[K + 1];
		int64_t p = (int64_t)get_le64(r + 4 * K),
			rr = (int64_t)get_le64(r + 4 * K + 8),
			e = (int64_t)get_le64(r + 4 * K + 16);
		for (j = 0; j < K && get_le32(r + 4 * j); j++)
			id[j] = (char)get_le32(r + 4 * j);
		id[j] = 0;
		if (i + 1 == nrows)
			next = (uint64_t)(p + e);
		if (p == -1 && rr == -1 && e == -1) {
			if (i + 1 == nrows)
				fail_msg("seed %u, %s: the last row %zu is a "
					 "tombstone", seed0, what, i);
			continue;
		}
		if (p < 0 || rr < 0 || e < rr || (uint64_t)(p + e) > blen)
			fail_msg("seed %u, %s: row %zu: bad extents", seed0, what, i);
		for (j = 0; j < n && strcmp(ids[j], id); j++)
			;
		if (j == n) {
			assert_true(n < 64);
			strcpy(ids[n++], id);
		}
		ext[j][0] = p + rr;
		ext[j][1] = p + e;
	}
	if (n != m->n)
		fail_msg("seed %u, %s: %zu documents by the rules, %zu in the "
			 "model", seed0, what, n, m->n);
	for (j = 0; j < n; j++) {
		size_t len = (size_t)(ext[j][1] - ext[j][0]);
		if (strcmp(ids[j], m->d[j].name))
			fail_msg("seed %u, %s: document %zu is %s by the rules, "
				 "%s in the model", seed0, what, j, ids[j],
				 m->d[j].name);
		if (len != m->d[j].len ||
		    memcmp(b + ext[j][0], m->d[j].data, len))
			fail_msg("seed %u, %s: %s: bytes differ (%zu by the rules, "
				 "%zu in the model)", seed0, what, ids[j], len,
				 m->d[j].len);
		if ((uint64_t)ext[j][1] > maxend)
			maxend = (uint64_t)ext[j][1];
	}
	if (n && next < maxend)
		fail_msg("seed %u, %s: DocArray would append at %" PRIu64
			 ", before live bytes ending at %" PRIu64, seed0, what,
			 next, maxend);
	free(h);
	free(b);
}

/* The engine lists the model, in order, with the same bytes. */
static void check_engine(struct arfs_docarray *da, const struct model *m,
			 const char *what)
{
	struct arfs_docattr a;
	struct arfs_docref ref;
	uint64_t cur = 0;
	char name[256];
	size_t i = 0;
	uint8_t *buf;

	while (arfs_docarray_next(da, &cur, name, sizeof(name), &a) == 0) {
		if (i >= m->n || strcmp(name, m->d[i].name))
			fail_msg("seed %u, %s: engine lists %s at %zu", seed0,
				 what, name, i);
		assert_int_equal(arfs_docarray_lookup(da, name, strlen(name),
						      &ref), 0);
		buf = malloc(ref.len + 1);
		assert_int_equal(arfs_docref_pread(&ref, buf, ref.len, 0),
				 (ssize_t)ref.len);
		if (ref.len != m->d[i].len || memcmp(buf, m->d[i].data, ref.len))
			fail_msg("seed %u, %s: engine: %s differs", seed0, what,
				 name);
		free(buf);
		arfs_docref_release(&ref);
		i++;
	}
	if (i != m->n)
		fail_msg("seed %u, %s: engine lists %zu of %zu", seed0, what, i,
			 m->n);
}

static struct arfs_docarray *open_rw(const char *dir,
				     const struct arfs_docarray_opts *o)
{
	struct arfs_docarray *da = NULL;
	struct arfs_docarray_opts def = { .key_length = K };

	assert_int_equal(arfs_docarray_open(dir, o ? o : &def, &da), 0);
	return da;
}

static void lookup_docno(struct arfs_docarray *da, const char *name,
			 uint64_t *docno)
{
	struct arfs_docref ref;

	assert_int_equal(arfs_docarray_lookup(da, name, strlen(name), &ref), 0);
	*docno = ref.attr.docno;
	arfs_docref_release(&ref);
}

static int mem_src(void *ctx, void *dst, size_t len, uint64_t off)
{
	memcpy(dst, (const uint8_t *)ctx + off, len);
	return 0;
}

static void put_hint(struct arfs_docarray *da, const char *name,
		     const uint8_t *data, size_t len, uint64_t keep)
{
	struct arfs_put_keep k = { 0, keep };

	lookup_docno(da, name, &k.docno);
	assert_int_equal(arfs_docarray_put_keep(da, name, strlen(name), mem_src,
						(void *)data, len, NULL, 0, &k,
						NULL), 0);
}

static void fill(uint8_t *p, size_t n)
{
	size_t i;
	uint8_t c = (uint8_t)('a' + rnd() % 26);

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(c + i % 7);
}

/* ---- random sequences ---- */

static void one_step(struct arfs_docarray **dap, const char *dir,
		     struct model *m, char *what, size_t cap)
{
	struct arfs_docarray *da = *dap;
	uint8_t buf[12000];
	char name[16], other[16];
	ssize_t i, j;
	size_t len;
	int op = (int)(rnd() % 10);

	snprintf(name, sizeof(name), "d%d", (int)(rnd() % NNAMES));
	snprintf(other, sizeof(other), "d%d", (int)(rnd() % NNAMES));
	i = mfind(m, name);
	j = mfind(m, other);
	switch (op) {
	case 0: /* put: new, or replace (a new version at the end) */
	case 1:
		len = rnd() % 3000;
		fill(buf, len);
		snprintf(what, cap, "put %s %zu", name, len);
		assert_int_equal(arfs_docarray_put_mem(da, name, strlen(name),
						       buf, len, NULL, 0), 0);
		mset(m, name, buf, len, false);
		break;
	case 2: /* append */
	case 3:
		if (i < 0)
			return;
		{
			size_t n = 1 + rnd() % 1500;
			len = m->d[i].len;
			if (len + n > sizeof(buf))
				return;
			memcpy(buf, m->d[i].data, len);
			fill(buf + len, n);
			len += n;
		}
		snprintf(what, cap, "append %s -> %zu", name, len);
		put_hint(da, name, buf, len, m->d[i].len);
		mset(m, name, buf, len, false);
		break;
	case 4: /* truncate, or extend with zeros (a hole) */
		if (i < 0)
			return;
		len = m->d[i].len;
		memcpy(buf, m->d[i].data, len);
		if (rnd() % 2) {
			len = len ? (size_t)(rnd() % len) : 0;
		} else {
			size_t n = rnd() % 9000;
			if (len + n > sizeof(buf))
				n = sizeof(buf) - len;
			memset(buf + len, 0, n);
			len += n;
		}
		snprintf(what, cap, "truncate %s -> %zu", name, len);
		put_hint(da, name, buf, len,
			 len < m->d[i].len ? len : m->d[i].len);
		mset(m, name, buf, len, false);
		break;
	case 5: /* delete */
	case 6:
		if (i < 0)
			return;
		snprintf(what, cap, "rm %s", name);
		assert_int_equal(arfs_docarray_delete(da, name, strlen(name)), 0);
		mdel_at(m, (size_t)i);
		break;
	case 7: /* rename */
		if (i < 0 || i == j)
			return;
		snprintf(what, cap, "mv %s %s", name, other);
		assert_int_equal(arfs_docarray_rename(da, name, strlen(name),
						      other, strlen(other), 0), 0);
		/* Compare with the engine's order: it is what the rules show. */
		{
			struct doc t = m->d[i];
			if (j >= 0) {
				free(m->d[j].data);
				m->d[j].data = t.data;
				m->d[j].len = t.len;
				memmove(&m->d[i], &m->d[i + 1],
					(m->n - (size_t)i - 1) * sizeof(t));
				m->n--;
			} else {
				snprintf(m->d[i].name, sizeof(m->d[i].name),
					 "%s", other);
			}
		}
		break;
	case 8:
		snprintf(what, cap, "compact");
		assert_int_equal(arfs_docarray_compact(da), 0);
		break;
	default:
		snprintf(what, cap, "reopen");
		arfs_docarray_close(da);
		*dap = open_rw(dir, NULL);
		break;
	}
}

/*
 * The engine is the reference for the order after a rename over (the
 * document takes one of the two places, 1.5 rule 4); take the order it
 * lists, then hold the rules to it.
 */
static void sync_order(struct arfs_docarray *da, struct model *m)
{
	struct arfs_docattr a;
	uint64_t cur = 0;
	char name[256];
	size_t k = 0;
	ssize_t i;

	while (arfs_docarray_next(da, &cur, name, sizeof(name), &a) == 0) {
		i = mfind(m, name);
		if (i < 0 || (size_t)i < k)
			fail_msg("seed %u: engine lists %s unexpectedly", seed0,
				 name);
		if ((size_t)i != k) {
			struct doc t = m->d[i];
			memmove(&m->d[k + 1], &m->d[k], ((size_t)i - k) * sizeof(t));
			m->d[k] = t;
		}
		k++;
	}
}

static void test_random(void **state)
{
	unsigned seeds[] = { 1, 2, 3, 42, 1234, 99991 };
	size_t s, step;
	char what[128];

	(void)state;
	for (s = 0; s < sizeof(seeds) / sizeof(seeds[0]); s++) {
		char *dir = new_dir("random");
		struct arfs_docarray_opts o = { .key_length = K };
		struct arfs_docarray *da;
		struct model m = { .n = 0 };

		seed = seed0 = seeds[s];
		assert_int_equal(arfs_docarray_create(dir, &o, &da), 0);
		for (step = 0; step < 300; step++) {
			one_step(&da, dir, &m, what, sizeof(what));
			sync_order(da, &m);
			check_engine(da, &m, what);
			check_rules(dir, &m, what);
		}
		arfs_docarray_close(da);
		mfree(&m);
		tu_rmrf(dir);
		free(dir);
	}
}

/* ---- appends in place, holes ---- */

static void test_append_in_place(void **state)
{
	struct arfs_docarray_opts o = { .key_length = K };
	char *dir = new_dir("append");
	struct arfs_docarray *da;
	struct model m = { .n = 0 };
	static uint8_t buf[200 * 1024 + 16]; /* + the 10 bytes of the hint test */
	size_t len = 0, i;

	(void)state;
	assert_int_equal(arfs_docarray_create(dir, &o, &da), 0);
	assert_int_equal(arfs_docarray_put_mem(da, "first", 5, "x", 1, NULL, 0), 0);
	mset(&m, "first", (const uint8_t *)"x", 1, false);
	assert_int_equal(arfs_docarray_put_mem(da, "log", 3, "", 0, NULL, 0), 0);
	for (i = 0; i < 200; i++) {
		fill(buf + len, 1024);
		put_hint(da, "log", buf, len + 1024, len);
		len += 1024;
	}
	mset(&m, "log", buf, len, false);
	/* body.bin holds each byte once; header.bin two rows. */
	assert_int_equal(fsize(dir, "body.bin"), 1 + (off_t)len);
	assert_int_equal(fsize(dir, "header.bin"), 2 * ROW);
	check_engine(da, &m, "appends");
	check_rules(dir, &m, "appends");
	/* A wrong docno in the hint is ignored: a copy, not in place. */
	{
		struct arfs_put_keep k = { 12345, len };
		fill(buf + len, 10);
		assert_int_equal(arfs_docarray_put_keep(da, "log", 3, mem_src, buf,
							len + 10, NULL, 0, &k,
							NULL), 0);
		assert_int_equal(fsize(dir, "body.bin"), 1 + (off_t)(2 * len + 10));
		mset(&m, "log", buf, len + 10, false);
	}
	/* Cutting the last document short rewrites its row only. */
	{
		off_t body = fsize(dir, "body.bin");
		put_hint(da, "log", buf, 3000, 3000);
		mset(&m, "log", buf, 3000, false);
		assert_int_equal(fsize(dir, "body.bin"), body);
		assert_int_equal(fsize(dir, "header.bin"), 2 * ROW);
		check_engine(da, &m, "cut short");
		check_rules(dir, &m, "cut short");
	}
	/* Not the last row: a copy to the end, as a new row. */
	put_hint(da, "first", (const uint8_t *)"xy", 2, 1);
	mset(&m, "first", (const uint8_t *)"xy", 2, false);
	assert_int_equal(fsize(dir, "header.bin"), 3 * ROW);
	check_rules(dir, &m, "append to the first");
	arfs_docarray_close(da);
	mfree(&m);
	tu_rmrf(dir);
	free(dir);
}

static void test_hole(void **state)
{
	struct arfs_docarray_opts o = { .key_length = K };
	char *dir = new_dir("hole"), *p;
	struct arfs_docarray *da;
	size_t big = 8u << 20;
	uint8_t *buf = calloc(1, big);
	struct stat st;

	(void)state;
	assert_int_equal(arfs_docarray_create(dir, &o, &da), 0);
	memcpy(buf, "head", 4);
	assert_int_equal(arfs_docarray_put_mem(da, "sparse", 6, buf, 4, NULL, 0), 0);
	memcpy(buf + big - 4, "tail", 4);
	put_hint(da, "sparse", buf, big, 4);
	p = path_in(dir, "body.bin");
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_size, (off_t)big);
	/* 8 MiB of size, a few blocks on disk. */
	assert_true((uint64_t)st.st_blocks * 512 < (256u << 10));
	{
		struct arfs_docref ref;
		uint8_t *got = malloc(big);
		assert_int_equal(arfs_docarray_lookup(da, "sparse", 6, &ref), 0);
		assert_int_equal(arfs_docref_pread(&ref, got, big, 0), (ssize_t)big);
		assert_memory_equal(got, buf, big);
		arfs_docref_release(&ref);
		free(got);
	}
	arfs_docarray_close(da);
	free(p);
	free(buf);
	tu_rmrf(dir);
	free(dir);
}

/* ---- arrays whose rows do not end in order ---- */

static void write_row(uint8_t *h, size_t i, const char *id, int64_t start,
		      int64_t len)
{
	uint8_t *r = h + i * ROW;
	size_t j;

	memset(r, 0, ROW);
	for (j = 0; id[j]; j++)
		put_le32(r + 4 * j, (uint8_t)id[j]);
	put_le64(r + 4 * K, 0);
	put_le64(r + 4 * K + 8, (uint64_t)start);
	put_le64(r + 4 * K + 16, (uint64_t)(start + len));
}

static int warnings, problems;

static void count(void *ctx, const char *msg)
{
	(void)ctx;
	if (!strncmp(msg, "warning: ", 9))
		warnings++;
	else
		problems++;
}

static void test_unsorted(void **state)
{
	char *dir = new_dir("unsorted"), *p;
	uint8_t h[3 * ROW], body[30];
	struct arfs_docarray *da;
	struct model m = { .n = 0 };

	(void)state;
	/* As DocArray leaves it after updating "a": a's bytes are last. */
	assert_int_equal(mkdir(dir, 0755), 0);
	memset(body, 'a', 10);
	memset(body + 10, 'b', 10);
	memset(body + 20, 'A', 10);
	write_row(h, 0, "a", 20, 10);
	write_row(h, 1, "b", 10, 10);
	write_row(h, 2, "c", 0, 0);
	p = path_in(dir, "header.bin");
	tu_writefile(p, h, sizeof(h));
	free(p);
	p = path_in(dir, "body.bin");
	tu_writefile(p, body, sizeof(body));
	free(p);
	warnings = problems = 0;
	assert_int_equal(arfs_docarray_check(dir, K, count, NULL), 0);
	assert_int_equal(warnings, 1);
	/* Deleting c must not leave b last (ending at 20, before a's 30). */
	da = open_rw(dir, NULL);
	assert_int_equal(arfs_docarray_delete(da, "c", 1), 0);
	mset(&m, "a", body + 20, 10, false);
	mset(&m, "b", body + 10, 10, false);
	check_engine(da, &m, "unsorted delete");
	check_rules(dir, &m, "unsorted delete");
	/* Then b: a's row copy is last. */
	assert_int_equal(arfs_docarray_delete(da, "b", 1), 0);
	mdel_at(&m, 1);
	check_rules(dir, &m, "unsorted delete b");
	arfs_docarray_close(da);
	warnings = problems = 0;
	assert_int_equal(arfs_docarray_check(dir, K, count, NULL), 0);
	assert_int_equal(warnings, 0);
	/* A tombstone last: a warning, not a problem. */
	da = open_rw(dir, NULL);
	assert_int_equal(arfs_docarray_put_mem(da, "z", 1, "z", 1, NULL, 0), 0);
	arfs_docarray_close(da);
	{
		size_t hl;
		uint8_t *hb = slurp(dir, "header.bin", &hl);
		memset(hb + hl - 24, 0xFF, 24);
		p = path_in(dir, "header.bin");
		tu_writefile(p, hb, hl);
		free(p);
		free(hb);
	}
	warnings = problems = 0;
	assert_int_equal(arfs_docarray_check(dir, K, count, NULL), 0);
	assert_int_equal(warnings, 1);
	/* Deleting the row before the tombstone drops both. */
	da = open_rw(dir, NULL);
	assert_int_equal(arfs_docarray_delete(da, "a", 1), 0);
	arfs_docarray_close(da);
	mdel_at(&m, 0);
	check_rules(dir, &m, "tombstone last");
	assert_int_equal(fsize(dir, "header.bin"), 0);
	mfree(&m);
	tu_rmrf(dir);
	free(dir);
}

/* ---- a read-only handle while header.bin shrinks ---- */

static void test_ro_truncated(void **state)
{
	struct arfs_docarray_opts o = { .key_length = K };
	struct arfs_docarray_opts ro = { .key_length = K, .read_only = true };
	char *dir = new_dir("rotrunc");
	struct arfs_docarray *da, *rd;
	struct arfs_docattr a;
	char name[32];
	uint64_t cur = 0;
	int i, n = 0;

	(void)state;
	assert_int_equal(arfs_docarray_create(dir, &o, &da), 0);
	for (i = 0; i < 200; i++) {
		snprintf(name, sizeof(name), "doc%03d", i);
		assert_int_equal(arfs_docarray_put_mem(da, name, strlen(name),
						       name, strlen(name), NULL,
						       0), 0);
	}
	assert_int_equal(arfs_docarray_open(dir, &ro, &rd), 0);
	/* Delete from the end: header.bin shrinks by many pages. */
	for (i = 199; i >= 10; i--) {
		snprintf(name, sizeof(name), "doc%03d", i);
		assert_int_equal(arfs_docarray_delete(da, name, strlen(name)), 0);
	}
	assert_int_equal(fsize(dir, "header.bin"), 10 * ROW);
	/* The reader still sees what it loaded, without a fault. */
	while (arfs_docarray_next(rd, &cur, name, sizeof(name), &a) == 0)
		n++;
	assert_int_equal(n, 200);
	{
		bool changed;
		assert_int_equal(arfs_docarray_reload(rd, &changed), 0);
		assert_true(changed);
		assert_int_equal(arfs_docarray_count(rd), 10);
	}
	arfs_docarray_close(rd);
	arfs_docarray_close(da);
	tu_rmrf(dir);
	free(dir);
}

/* ---- automatic compaction ---- */

static void test_autocompact(void **state)
{
	struct arfs_docarray_opts o = { .key_length = K, .autocompact = 0.5,
					.autocompact_min = 256u << 10 };
	struct arfs_docarray_opts off = { .key_length = K, .autocompact = -1 };
	char *dir = new_dir("autocompact");
	struct arfs_docarray *da;
	static uint8_t buf[64 * 1024];
	off_t maxbody = 0;
	int i;

	(void)state;
	assert_int_equal(arfs_docarray_create(dir, &o, &da), 0);
	assert_int_equal(arfs_docarray_put_mem(da, "keep", 4, "k", 1, NULL, 0), 0);
	for (i = 0; i < 200; i++) {
		fill(buf, sizeof(buf));
		/* Alternate so that the rewritten one is not always last. */
		assert_int_equal(arfs_docarray_put_mem(da, i % 2 ? "x" : "y", 1,
						       buf, sizeof(buf), NULL,
						       0), 0);
		if (fsize(dir, "body.bin") > maxbody)
			maxbody = fsize(dir, "body.bin");
	}
	arfs_docarray_close(da);
	/* Live about 128 KiB; dead never much past the 256 KiB threshold. */
	assert_true(maxbody < (off_t)(2 * 64 * 1024 + 2 * (256u << 10)));
	/* Off: it grows. */
	da = open_rw(dir, &off);
	for (i = 0; i < 20; i++)
		assert_int_equal(arfs_docarray_put_mem(da, i % 2 ? "x" : "y", 1,
						       buf, sizeof(buf), NULL,
						       0), 0);
	arfs_docarray_close(da);
	assert_true(fsize(dir, "body.bin") > 20 * 64 * 1024);
	tu_rmrf(dir);
	free(dir);
}

/*
 * arfs_docarray_compact_due() says what arfs_docarray_autocompact() will
 * do: commits that skip compaction pile up dead bytes until it is due;
 * compacting clears it; with autocompaction off it never is.
 */
static void test_compact_due(void **state)
{
	struct arfs_docarray_opts o = { .key_length = K, .autocompact = 0.5,
					.autocompact_min = 256u << 10 };
	struct arfs_docarray_opts off = { .key_length = K, .autocompact = -1 };
	char *dir = new_dir("compact-due");
	struct arfs_docarray *da;
	static uint8_t buf[64 * 1024];
	off_t before;
	int i;

	(void)state;
	assert_int_equal(arfs_docarray_create(dir, &o, &da), 0);
	fill(buf, sizeof(buf));
	for (i = 0; i < 4; i++) /* 192 KiB dead: under the minimum */
		assert_int_equal(arfs_docarray_put_mem(da, i % 2 ? "x" : "y",
						       1, buf, sizeof(buf), NULL,
						       ARFS_PUT_NO_AUTOCOMPACT), 0);
	assert_false(arfs_docarray_compact_due(da));
	for (i = 0; i < 8; i++)
		assert_int_equal(arfs_docarray_put_mem(da, i % 2 ? "x" : "y",
						       1, buf, sizeof(buf), NULL,
						       ARFS_PUT_NO_AUTOCOMPACT), 0);
	assert_true(arfs_docarray_compact_due(da));
	before = fsize(dir, "body.bin");
	assert_int_equal(arfs_docarray_autocompact(da), 0);
	assert_false(arfs_docarray_compact_due(da));
	assert_true(fsize(dir, "body.bin") < before);
	arfs_docarray_close(da);
	da = open_rw(dir, &off);
	for (i = 0; i < 12; i++)
		assert_int_equal(arfs_docarray_put_mem(da, i % 2 ? "x" : "y",
						       1, buf, sizeof(buf), NULL,
						       0), 0);
	assert_false(arfs_docarray_compact_due(da));
	arfs_docarray_close(da);
	tu_rmrf(dir);
	free(dir);
}

static int setup(void **state)
{
	(void)state;
	scratch = tu_tmpdir("docarray-end");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tu_rmrf(scratch);
	free(scratch);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random),
		cmocka_unit_test(test_append_in_place),
		cmocka_unit_test(test_hole),
		cmocka_unit_test(test_unsorted),
		cmocka_unit_test(test_ro_truncated),
		cmocka_unit_test(test_autocompact),
		cmocka_unit_test(test_compact_due),
	};

	arfs_log_set_level(ARFS_LOG_ERR);
	return cmocka_run_group_tests(tests, setup, teardown);
}
