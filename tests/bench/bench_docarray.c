/*
 * bench_docarray.c - open time, memory and put/get throughput of
 * core/docarray on generated arrays (not a test; scripts/bench-docarray.sh
 * builds and runs it).
 *
 * For each size N (default 10^4, 10^5, 10^6) it writes header.bin and
 * body.bin directly (36-character uuid-like ids, 48-byte bodies, DocArray's
 * p/r/e split), then measures:
 *  - open: wall time of arfs_docarray_open() (files warm in the page cache,
 *    as right after they were written), and VmRSS / RssAnon growth across
 *    it. "beyond header" is the VmRSS growth minus header.bin's size: the
 *    index builder touches every header page, which then counts as RSS.
 *  - the first put (it creates the sidecar: one record per document),
 *    then puts of 1 KiB documents with new ids, no fsync, per second.
 *  - get: random lookup + pread of the whole document, per second.
 *
 * Usage: bench_docarray WORKDIR [N...]
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "docarray.h"
#include "util.h"

#define KEYLEN 36
#define ROWSIZE (KEYLEN * 4 + 24)
#define BODYLEN 48
#define NPUT 20000
#define NGET 200000

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A /proc/self/status field in KiB, or -1. */
static long status_kib(const char *field)
{
	FILE *f = fopen("/proc/self/status", "r");
	size_t flen = strlen(field);
	char line[256];
	long v = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, flen) && line[flen] == ':') {
			v = strtol(line + flen + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

static uint64_t mix(uint64_t x)
{
	x += UINT64_C(0x9E3779B97F4A7C15);
	x = (x ^ (x >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	x = (x ^ (x >> 27)) * UINT64_C(0x94D049BB133111EB);
	return x ^ (x >> 31);
}

/* 36-character uuid-like id, unique per i (i is in the last group). */
static void make_id(uint64_t i, char id[KEYLEN + 1])
{
	uint64_t h = mix(i);

	snprintf(id, KEYLEN + 1, "%08" PRIx32 "-%04" PRIx32 "-4%03" PRIx32
		 "-%04" PRIx32 "-%012" PRIx64, (uint32_t)h,
		 (uint32_t)(h >> 32) & 0xFFFF, (uint32_t)(h >> 48) & 0xFFF,
		 (uint32_t)(mix(h) & 0xFFFF), i & UINT64_C(0xFFFFFFFFFFFF));
}

static int write_array(const char *dir, uint64_t n)
{
	char path[4200], id[KEYLEN + 1], text[96];
	uint8_t row[ROWSIZE], body[BODYLEN];
	FILE *h, *b;
	uint64_t i, start, p;
	size_t k;

	if (mkdir(dir, 0755) && errno != EEXIST)
		return -errno;
	snprintf(path, sizeof(path), "%s/header.bin", dir);
	h = fopen(path, "wb");
	snprintf(path, sizeof(path), "%s/body.bin", dir);
	b = fopen(path, "wb");
	if (!h || !b)
		return -EIO;
	for (i = 0; i < n; i++) {
		make_id(i, id);
		memset(row, 0, sizeof(row));
		for (k = 0; k < KEYLEN; k++)
			put_le32(row + 4 * k, (unsigned char)id[k]);
		start = i * BODYLEN;
		p = start / 4096 * 4096;
		put_le64(row + 4 * KEYLEN, p);
		put_le64(row + 4 * KEYLEN + 8, start - p);
		put_le64(row + 4 * KEYLEN + 16, start - p + BODYLEN);
		snprintf(text, sizeof(text), "document %" PRIu64 " of the "
			 "benchmark array................................", i);
		memcpy(body, text, sizeof(body));
		if (fwrite(row, sizeof(row), 1, h) != 1 ||
		    fwrite(body, sizeof(body), 1, b) != 1)
			return -EIO;
	}
	if (fclose(h) || fclose(b))
		return -EIO;
	return 0;
}

struct result {
	uint64_t n;
	double open_s, put_s, first_put_s, get_s;
	long rss_kib, anon_kib, header_kib;
};

static int bench_open(const char *dir, struct result *r,
		      struct arfs_docarray **out)
{
	struct arfs_docarray_opts o = { .key_length = KEYLEN };
	long rss0 = status_kib("VmRSS"), anon0 = status_kib("RssAnon");
	double t0 = now();
	int rc = arfs_docarray_open(dir, &o, out);

	r->open_s = now() - t0;
	r->rss_kib = status_kib("VmRSS") - rss0;
	r->anon_kib = status_kib("RssAnon") - anon0;
	r->header_kib = (long)(r->n * ROWSIZE / 1024);
	if (!rc && arfs_docarray_count(*out) != r->n) {
		fprintf(stderr, "bench: %s: %" PRIu64 " documents, want %" PRIu64
			"\n", dir, arfs_docarray_count(*out), r->n);
		rc = -EUCLEAN;
	}
	return rc;
}

static int bench_put(struct arfs_docarray *da, struct result *r)
{
	char data[1024], id[KEYLEN + 1];
	double t0 = now();
	int i, rc;

	memset(data, 'x', sizeof(data));
	/* The first write creates the sidecar (a record per document). */
	rc = arfs_docarray_put_mem(da, "first-put", 9, data, sizeof(data),
				   NULL, 0);
	if (rc)
		return rc;
	r->first_put_s = now() - t0;
	t0 = now();
	for (i = 0; i < NPUT; i++) {
		snprintf(id, sizeof(id), "put-%08d", i);
		rc = arfs_docarray_put_mem(da, id, strlen(id), data,
					   sizeof(data), NULL, 0);
		if (rc)
			return rc;
	}
	r->put_s = now() - t0;
	return 0;
}

static int bench_get(struct arfs_docarray *da, struct result *r)
{
	char id[KEYLEN + 1], buf[BODYLEN];
	struct arfs_docref ref;
	uint64_t s = 12345;
	double t0 = now();
	int i, rc;

	for (i = 0; i < NGET; i++) {
		s = mix(s);
		make_id(s % r->n, id);
		rc = arfs_docarray_lookup(da, id, KEYLEN, &ref);
		if (rc)
			return rc;
		if (arfs_docref_pread(&ref, buf, sizeof(buf), 0) != BODYLEN)
			rc = -EIO;
		arfs_docref_release(&ref);
		if (rc)
			return rc;
	}
	r->get_s = now() - t0;
	return 0;
}

static int run_one(const char *work, uint64_t n, struct result *r)
{
	struct arfs_docarray *da = NULL;
	char dir[4096];
	int rc;

	snprintf(dir, sizeof(dir), "%.4000s/n%" PRIu64, work, n);
	r->n = n;
	rc = write_array(dir, n);
	if (!rc)
		rc = bench_open(dir, r, &da);
	if (!rc)
		rc = bench_get(da, r);
	if (!rc)
		rc = bench_put(da, r);
	arfs_docarray_close(da);
	if (rc)
		fprintf(stderr, "bench: %s: %s\n", dir, strerror(-rc));
	return rc;
}

int main(int argc, char **argv)
{
	static const uint64_t def[] = { 10000, 100000, 1000000 };
	struct result r;
	int i, n = argc > 2 ? argc - 2 : 3, bad = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: bench_docarray WORKDIR [N...]\n");
		return 2;
	}
	printf("%9s %9s %10s %10s %11s %9s %11s %9s %10s\n", "docs",
	       "open ms", "VmRSS MiB", "header MiB", "beyond MiB", "anon MiB",
	       "1st put ms", "puts/s", "gets/s");
	for (i = 0; i < n; i++) {
		uint64_t N = argc > 2 ? strtoull(argv[i + 2], NULL, 10) : def[i];
		/* Each run in a fresh process would be cleaner; RSS deltas are
		 * measured around the open only, so earlier runs do not count. */
		if (run_one(argv[1], N, &r)) {
			bad = 1;
			continue;
		}
		printf("%9" PRIu64 " %9.1f %10.1f %10.1f %11.1f %9.1f %11.1f "
		       "%9.0f %10.0f\n", r.n, r.open_s * 1e3, r.rss_kib / 1024.0,
		       r.header_kib / 1024.0,
		       (r.rss_kib - r.header_kib) / 1024.0, r.anon_kib / 1024.0,
		       r.first_put_s * 1e3, NPUT / r.put_s, NGET / r.get_s);
		fflush(stdout);
	}
	return bad;
}
