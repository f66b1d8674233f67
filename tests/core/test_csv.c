/*
 * test_csv.c - CSV import and export: type inference, quoting (commas,
 * doubled quotes, line breaks inside quotes, CRLF), missing values and
 * empty strings, import -> export -> import stability, and bad input
 * (ragged rows, unterminated quotes, stray quotes, invalid UTF-8,
 * duplicate names): a clear message with the line number, and nothing
 * left on disk.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "csv.h"
#include "group.h"
#include "testutil.h"
#include "typed.h"
#include "util.h"

static char *write_csv(const char *dir, const char *name, const char *text)
{
	char *p;

	if (asprintf(&p, "%s/%s", dir, name) < 0)
		abort();
	tu_writefile(p, text, strlen(text));
	return p;
}

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	while ((de = readdir(d)))
		n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
	closedir(d);
	return n;
}

static void last_progress(void *ctx, uint64_t done, uint64_t rows)
{
	uint64_t *seen = ctx;

	assert_true(done > seen[0] && done <= rows);	/* in order */
	seen[0] = done;
	seen[1] = rows;
}

/* The group as CSV, formatted on `threads` threads (0: opts NULL). */
static char *export_threads(const char *group, unsigned threads)
{
	uint64_t seen[2] = { 0, 0 };
	struct arfs_csv_export_opts o = { .threads = threads,
					  .progress = last_progress,
					  .ctx = seen };
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_int_equal(arfs_csv_export(group, f, threads ? &o : NULL), 0);
	fclose(f);
	if (threads)
		assert_int_equal(seen[0], seen[1]);	/* ends at 100% */
	return buf;
}

static char *export_text(const char *group)
{
	return export_threads(group, 0);
}

static const char sample[] =
	"id,score,name,vec,maybe\r\n"
	"1,2.5,\"Smith, John\",[1 2 3],\n"
	"2,3,\"say \"\"hi\"\"\",[],x\n"
	"-3,1e3,\"two\nlines\",\"[0.5, -1]\",\n"
	"4,,\"\",[nan inf],y\n"
	",-0.25,plain,,\n";

static void test_types_and_roundtrip(void **state)
{
	char *dir = tu_tmpdir("csv"), *csv = write_csv(dir, "in.csv", sample);
	char *g1, *g2, *out1, *out2, err[256];
	struct arfs_csv_summary sum;
	struct arfs_group *g;

	(void)state;
	assert_int_equal(asprintf(&g1, "%s/g1", dir) > 0, 1);
	assert_int_equal(asprintf(&g2, "%s/g2", dir) > 0, 1);
	if (arfs_csv_import(csv, g1, NULL, &sum, err, sizeof(err)))
		fail_msg("import: %s", err);
	assert_int_equal(sum.rows, 5);
	assert_int_equal(sum.cols, 5);
	assert_int_equal(sum.types[0], ARFS_FT_INTEGER);
	assert_int_equal(sum.types[1], ARFS_FT_FLOAT);
	assert_int_equal(sum.types[2], ARFS_FT_STRING);
	assert_int_equal(sum.types[3], ARFS_FT_VECTOR);
	assert_int_equal(sum.types[4], ARFS_FT_STRING);
	assert_string_equal(sum.names[2], "name");
	arfs_csv_summary_release(&sum);
	assert_int_equal(arfs_group_open(g1, &g), 0);
	assert_int_equal(g->nrows, 5);
	arfs_group_free(g);
	out1 = export_text(g1);
	assert_string_equal(out1,
		"\"id\",\"score\",\"name\",\"vec\",\"maybe\"\n"
		"1,2.5,\"Smith, John\",[1 2 3],\n"
		"2,3.0,\"say \"\"hi\"\"\",[],\"x\"\n"
		"-3,1000.0,\"two\nlines\",[0.5 -1],\n"
		"4,,\"\",[nan inf],\"y\"\n"
		",-0.25,\"plain\",,\n");
	/* the export imports to the same thing */
	free(csv);
	csv = write_csv(dir, "out.csv", out1);
	assert_int_equal(arfs_csv_import(csv, g2, NULL, NULL, err,
					 sizeof(err)), 0);
	out2 = export_text(g2);
	assert_string_equal(out1, out2);
	/* the target must not exist */
	assert_int_equal(arfs_csv_import(csv, g2, NULL, NULL, err,
					 sizeof(err)), -EEXIST);
	free(out1);
	free(out2);
	free(csv);
	free(g1);
	free(g2);
	tu_rmrf(dir);
	free(dir);
}

struct bad {
	const char *text;
	int rc;
	const char *msg;	/* start of the message */
};

static void test_bad_input(void **state)
{
	static const struct bad cases[] = {
		{ "a,b\n1,2\n3\n", -EINVAL, "line 3: 1 field, the header has 2" },
		{ "a,b\n1,2\n3,4,5\n", -EINVAL, "line 3: 3 fields" },
		{ "a,b\n1,2\n\"x\ny,2\n", -EINVAL,
		  "line 3: unterminated quoted field" },
		{ "a,b\n1,\"q\"x\n", -EINVAL, "line 2: unexpected character "
		  "after a closing quote" },
		{ "a,b\n1,2\n3,x\"y\n", -EINVAL, "line 3: quote inside" },
		{ "a,b\n1,2\n\"two\nlines\",3\n4,\xff\xfe\n", -EILSEQ,
		  "line 5: invalid UTF-8" },
		{ "a,b\n1,\xc0\xaf\n", -EILSEQ, "line 2: invalid UTF-8" },
		{ "a,a\n1,2\n", -EINVAL, "line 1: column name 'a' appears twice" },
		{ "", -EINVAL, "line 1: empty file" },
	};
	char *dir = tu_tmpdir("csvbad"), *csv, *g, err[256];

	(void)state;
	assert_int_equal(asprintf(&g, "%s/g", dir) > 0, 1);
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		csv = write_csv(dir, "bad.csv", cases[i].text);
		assert_int_equal(arfs_csv_import(csv, g, NULL, NULL, err,
						 sizeof(err)), cases[i].rc);
		if (strncmp(err, cases[i].msg, strlen(cases[i].msg)))
			fail_msg("case %zu: message '%s', want '%s...'", i, err,
				 cases[i].msg);
		/* nothing written: only the CSV is in the directory */
		assert_int_equal(count_entries(dir), 1);
		free(csv);
	}
	free(g);
	tu_rmrf(dir);
	free(dir);
}

/* Many rows through several segments and blocks: values survive, and
 * the export is the same on one thread or several (chunks of rows cut
 * across blocks and segments). */
static void test_blocks_and_segments(void **state)
{
	char *dir = tu_tmpdir("csvbig"), *csv, *g, *out, err[256];
	struct arfs_csv_import_opts o = { .segment_rows = 7000,
					  .gw = { .block_target = 4096,
						  .no_fsync = true } };
	struct arfs_csv_summary sum;
	size_t cap = 1 << 22, len = 0;
	char *text = malloc(cap);

	(void)state;
	len += (size_t)sprintf(text, "\"i\",\"f\",\"s\",\"v\"\n");
	for (int i = 0; i < 50000; i++)
		len += (size_t)sprintf(text + len, "%d,%d.25,\"s%d\",[%d %d]\n",
				       i * 7 - 5000, i % 13, i % 100, i, -i);
	csv = write_csv(dir, "big.csv", text);
	assert_int_equal(asprintf(&g, "%s/g", dir) > 0, 1);
	assert_int_equal(arfs_csv_import(csv, g, &o, &sum, err, sizeof(err)),
			 0);
	assert_int_equal(sum.rows, 50000);
	assert_true(sum.blocks > 8 * 4);	/* 8 segments, several blocks */
	arfs_csv_summary_release(&sum);
	out = export_text(g);
	assert_string_equal(out, text);
	free(out);
	for (unsigned t = 1; t <= 5; t += 2) {
		out = export_threads(g, t);
		assert_string_equal(out, text);
		free(out);
	}
	free(text);
	free(csv);
	free(g);
	tu_rmrf(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_types_and_roundtrip),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_blocks_and_segments),
	};

	arfs_log_set_level(ARFS_LOG_WARNING);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
