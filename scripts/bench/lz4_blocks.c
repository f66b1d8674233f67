/*
 * lz4_blocks.c - benchmark helper for scripts/bench-fs.sh (not product
 * code): the raw LZ4 decode baseline for the segment-group read row.
 *
 * lz4_blocks SEGMENT_FILE ROUNDS
 *
 * Reads the block table at the end of a Turi SFrame v2 segment file
 * (u64 footer = table size; table: u64 ncols; per column u64 nblocks, then
 * 48-byte records: u64 offset, length, block_size, num_elem, flags,
 * u16 content_type, 6 bytes padding), loads the whole file in memory, and
 * decompresses every LZ4 block (flags & 1) with LZ4_decompress_safe,
 * ROUNDS times. Prints one line:
 *   lz4_blocks=N stored_bytes=S decoded_bytes=D rounds=R seconds=T MBps=X
 * where X is decoded (output) megabytes (1e6) per second over all rounds.
 * Raw (uncompressed) blocks are counted apart (raw_blocks=...) and not
 * timed: copying them is not decoding.
 */
#include <lz4.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t le64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

struct blk {
	uint64_t off, len, size;
};

int main(int argc, char **argv)
{
	FILE *f;
	unsigned char *file;
	long fsz;
	uint64_t tsz, ncols, pos, nb, nlz4 = 0, nraw = 0, stored = 0, decoded = 0;
	uint64_t maxsz = 0;
	struct blk *v = NULL;
	size_t cap = 0;
	long rounds;
	char *out;
	struct timespec t0, t1;
	double secs;

	if (argc != 3) {
		fprintf(stderr, "usage: %s SEGMENT_FILE ROUNDS\n", argv[0]);
		return 2;
	}
	rounds = strtol(argv[2], NULL, 10);
	f = fopen(argv[1], "rb");
	if (!f || fseek(f, 0, SEEK_END) || (fsz = ftell(f)) < 16 ||
	    fseek(f, 0, SEEK_SET)) {
		perror(argv[1]);
		return 1;
	}
	file = malloc((size_t)fsz);
	if (!file || fread(file, 1, (size_t)fsz, f) != (size_t)fsz) {
		perror(argv[1]);
		return 1;
	}
	fclose(f);
	tsz = le64(file + fsz - 8);
	if (tsz < 8 || tsz > (uint64_t)fsz - 8) {
		fprintf(stderr, "%s: bad footer\n", argv[1]);
		return 1;
	}
	pos = (uint64_t)fsz - 8 - tsz;
	ncols = le64(file + pos);
	pos += 8;
	for (uint64_t c = 0; c < ncols; c++) {
		if (pos + 8 > (uint64_t)fsz - 8)
			goto bad;
		nb = le64(file + pos);
		pos += 8;
		for (uint64_t b = 0; b < nb; b++, pos += 48) {
			const unsigned char *r = file + pos;
			struct blk k;

			if (pos + 48 > (uint64_t)fsz - 8)
				goto bad;
			k.off = le64(r);
			k.len = le64(r + 8);
			k.size = le64(r + 16);
			if (k.off + k.len > (uint64_t)fsz)
				goto bad;
			if (!(le64(r + 32) & 1)) {
				nraw++;
				continue;
			}
			if (nlz4 == cap) {
				cap = cap ? cap * 2 : 64;
				v = realloc(v, cap * sizeof(*v));
				if (!v)
					return 1;
			}
			v[nlz4++] = k;
			stored += k.len;
			decoded += k.size;
			if (k.size > maxsz)
				maxsz = k.size;
		}
	}
	out = malloc(maxsz ? maxsz : 1);
	if (!out)
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long r = 0; r < rounds; r++)
		for (uint64_t i = 0; i < nlz4; i++) {
			int n = LZ4_decompress_safe((const char *)file + v[i].off,
						    out, (int)v[i].len,
						    (int)v[i].size);
			if (n < 0 || (uint64_t)n != v[i].size) {
				fprintf(stderr, "block %llu: LZ4 error %d\n",
					(unsigned long long)i, n);
				return 1;
			}
		}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("lz4_blocks=%llu raw_blocks=%llu stored_bytes=%llu decoded_bytes=%llu "
	       "rounds=%ld seconds=%.6f MBps=%.1f\n",
	       (unsigned long long)nlz4, (unsigned long long)nraw,
	       (unsigned long long)stored, (unsigned long long)decoded, rounds,
	       secs, secs > 0 ? (double)decoded * rounds / secs / 1e6 : 0.0);
	return 0;
bad:
	fprintf(stderr, "%s: block table runs past the file\n", argv[1]);
	return 1;
}
