/*
 * arrayctl - the command-line tool over core/, for machines without FUSE
 * and for maintenance: list, read, write, check and compact document
 * arrays (and segment groups, fs/arrayctl_group.c).
 *
 * Exit status: 0 success, 1 failure (or problems found by check),
 * 2 usage error. Errors go to stderr as "arrayctl: <file>: <what>".
 */
#include "arrayctl_group.h"
#include "docarray.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static unsigned opt_key_length;

static const char usage_text[] =
	"usage: arrayctl [--key-length N] COMMAND ARRAY [ARGS]\n"
	"\n"
	"Document arrays (DocArray memmap layout: header.bin + body.bin):\n"
	"  ls ARRAY               list documents: index, id, size, mtime\n"
	"  cat ARRAY ID           write a document's bytes to stdout\n"
	"  put ARRAY ID [FILE|-]  create or replace a document (stdin by default)\n"
	"  rm ARRAY ID            delete a document\n"
	"  mv ARRAY OLD NEW       rename a document, replacing NEW if it exists\n"
	"  check ARRAY            verify every row; exit 0 when sound\n"
	"  compact ARRAY          rewrite the array without dead bytes\n"
	"  info ARRAY             key length, rows, documents, sizes\n"
	"  create ARRAY           create an empty array\n"
	"\n"
	"Segment groups (Turi SFrame v2: a folder with *.sidx or *.frame_idx):\n"
	"  ls GROUP               columns: type, rows, blocks, bytes\n"
	"  cat GROUP COLUMN       the column's values, one per line\n"
	"  check GROUP            decode every block; exit 0 when sound\n"
	"  info GROUP             index, segments, rows\n"
	"  import FILE.csv GROUP  new group from CSV (header row, inferred types;\n"
	"                         --type NAME=TYPE fixes a column's type)\n"
	"  export GROUP [FILE]    the group as CSV (stdout by default)\n"
	"                         import/export --dialect turi: Turi's CSV rules\n"
	"  compact GROUP          rewrite segments without dead blocks\n"
	"  convert --lz4 GROUP    rewrite with LZ4 blocks (Turi's own flags)\n"
	"\n"
	"Options:\n"
	"  --key-length N   id length in characters (default: as recorded, or 36)\n"
	"  -h, --help       this text (also: arrayctl COMMAND --help)\n"
	"\n"
	"Ids are shown and given as file names: see docs/FORMAT.md, \"Names\".\n";

struct command {
	const char *name;
	int nargs_min, nargs_max;
	const char *args;
	const char *help;
	int (*run)(const char *array, char **args, int nargs);
};

static int fail(const char *file, int rc)
{
	fprintf(stderr, "arrayctl: %s: %s\n", file, strerror(-rc));
	return 1;
}

static int open_array(const char *path, bool ro, struct arfs_docarray **da)
{
	struct arfs_docarray_opts opts = { .key_length = opt_key_length,
					   .read_only = ro };
	int rc;

	if (!arfs_docarray_is_array(path)) {
		fprintf(stderr, "arrayctl: %s: not a document array (no "
			"header.bin and body.bin)\n", path);
		return -ENOENT;
	}
	rc = arfs_docarray_open(path, &opts, da);
	if (rc)
		fail(path, rc);
	return rc;
}

static int cmd_ls(const char *array, char **args, int nargs)
{
	struct arfs_docarray *da;
	struct arfs_docattr a;
	char name[4096], when[64];
	uint64_t cursor = 0, index = 0;
	struct tm tm;
	time_t t;

	if (open_array(array, true, &da))
		return 1;
	while (arfs_docarray_next(da, &cursor, name, sizeof(name), &a) == 0) {
		t = (time_t)a.mtime_sec;
		localtime_r(&t, &tm);
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
		printf("%8" PRIu64 "  %-36s %12" PRIu64 "  %s.%09u\n", index++,
		       name, a.size, when, a.mtime_nsec);
	}
	arfs_docarray_close(da);
	return 0;
}

static int cmd_cat(const char *array, char **args, int nargs)
{
	struct arfs_docarray *da;
	struct arfs_docref ref;
	const char *p;
	int rc, err;

	if (open_array(array, true, &da))
		return 1;
	rc = arfs_docarray_lookup(da, args[0], strlen(args[0]), &ref);
	if (rc) {
		arfs_docarray_close(da);
		fprintf(stderr, "arrayctl: %s: %s: %s\n", array, args[0],
			strerror(-rc));
		return 1;
	}
	p = arfs_docref_view(&ref, &err);
	rc = p && fwrite(p, 1, ref.len, stdout) == ref.len && fflush(stdout) == 0;
	arfs_docref_release(&ref);
	arfs_docarray_close(da);
	if (!rc)
		return fail(array, err ? err : -EIO);
	return 0;
}

/* Read all of a stream: malloc'd buffer. */
static int slurp(FILE *f, char **out, size_t *len)
{
	size_t cap = 1 << 16, n = 0, got;
	char *buf = malloc(cap), *nb;

	if (!buf)
		return -ENOMEM;
	while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
		n += got;
		if (n == cap) {
			nb = realloc(buf, cap *= 2);
			if (!nb) {
				free(buf);
				return -ENOMEM;
			}
			buf = nb;
		}
	}
	if (ferror(f)) {
		free(buf);
		return -EIO;
	}
	*out = buf;
	*len = n;
	return 0;
}

static int fd_src(void *ctx, void *dst, size_t len, uint64_t off)
{
	ssize_t n = pread(*(int *)ctx, dst, len, (off_t)off);

	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

static int cmd_put(const char *array, char **args, int nargs)
{
	const char *src = nargs > 1 ? args[1] : "-";
	struct arfs_docarray *da;
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	int fd = -1, rc;

	if (strcmp(src, "-")) {
		fd = open(src, O_RDONLY);
		if (fd < 0 || fstat(fd, &st))
			return fail(src, -errno);
	} else if ((rc = slurp(stdin, &buf, &len))) {
		return fail("stdin", rc);
	}
	if (open_array(array, false, &da)) {
		free(buf);
		return 1;
	}
	if (fd >= 0)
		rc = arfs_docarray_put(da, args[0], strlen(args[0]), fd_src, &fd,
				       (uint64_t)st.st_size, NULL, ARFS_PUT_FSYNC,
				       NULL);
	else
		rc = arfs_docarray_put_mem(da, args[0], strlen(args[0]), buf,
					   len, NULL, ARFS_PUT_FSYNC);
	arfs_docarray_close(da);
	free(buf);
	if (fd >= 0)
		close(fd);
	if (rc == -ENAMETOOLONG) {
		fprintf(stderr, "arrayctl: %s: id '%s' is longer than the key "
			"length %u\n", array, args[0], opt_key_length ?
			opt_key_length : ARFS_DEFAULT_KEY_LENGTH);
		return 1;
	}
	return rc ? fail(array, rc) : 0;
}

static int cmd_rm(const char *array, char **args, int nargs)
{
	struct arfs_docarray *da;
	int rc;

	if (open_array(array, false, &da))
		return 1;
	rc = arfs_docarray_delete(da, args[0], strlen(args[0]));
	if (!rc)
		rc = arfs_docarray_sync(da);
	arfs_docarray_close(da);
	if (rc) {
		fprintf(stderr, "arrayctl: %s: %s: %s\n", array, args[0],
			strerror(-rc));
		return 1;
	}
	return 0;
}

static int cmd_mv(const char *array, char **args, int nargs)
{
	struct arfs_docarray *da;
	int rc;

	if (open_array(array, false, &da))
		return 1;
	rc = arfs_docarray_rename(da, args[0], strlen(args[0]), args[1],
				  strlen(args[1]), 0);
	if (!rc)
		rc = arfs_docarray_sync(da);
	arfs_docarray_close(da);
	if (rc) {
		fprintf(stderr, "arrayctl: %s: %s -> %s: %s\n", array, args[0],
			args[1], strerror(-rc));
		return 1;
	}
	return 0;
}

static void print_problem(void *ctx, const char *msg)
{
	fprintf(stderr, "arrayctl: %s\n", msg);
}

static int cmd_check(const char *array, char **args, int nargs)
{
	int n;

	if (!arfs_docarray_is_array(array)) {
		fprintf(stderr, "arrayctl: %s: not a document array\n", array);
		return 1;
	}
	n = arfs_docarray_check(array, opt_key_length, print_problem, NULL);
	if (n < 0)
		return fail(array, n);
	if (n > 0) {
		fprintf(stderr, "arrayctl: %s: %d problem%s\n", array, n,
			n == 1 ? "" : "s");
		return 1;
	}
	printf("%s: sound\n", array);
	return 0;
}

static int cmd_compact(const char *array, char **args, int nargs)
{
	struct arfs_docarray_info before, after;
	struct arfs_docarray *da;
	int rc;

	if (open_array(array, false, &da))
		return 1;
	arfs_docarray_get_info(da, &before);
	rc = arfs_docarray_compact(da);
	if (!rc)
		arfs_docarray_get_info(da, &after);
	arfs_docarray_close(da);
	if (rc)
		return fail(array, rc);
	printf("%s: %" PRIu64 " documents; body %" PRIu64 " -> %" PRIu64
	       " bytes; rows %" PRIu64 " -> %" PRIu64 "\n", array, after.live,
	       before.body_size, after.body_size, before.rows, after.rows);
	return 0;
}

static int cmd_info(const char *array, char **args, int nargs)
{
	struct arfs_docarray_info i;
	struct arfs_docarray *da;

	if (open_array(array, true, &da))
		return 1;
	arfs_docarray_get_info(da, &i);
	arfs_docarray_close(da);
	printf("array:          %s\n"
	       "key length:     %u (row size %u bytes)\n"
	       "rows:           %" PRIu64 "\n"
	       "documents:      %" PRIu64 "\n"
	       "tombstones:     %" PRIu64 "\n"
	       "duplicate rows: %" PRIu64 "\n"
	       "corrupt rows:   %" PRIu64 "\n"
	       "body bytes:     %" PRIu64 " (%" PRIu64 " live)\n"
	       "sidecar:        %s\n",
	       array, i.key_length, i.key_length * 4 + 24, i.rows, i.live,
	       i.tombstones, i.duplicate_rows, i.bad_rows, i.body_size,
	       i.live_bytes, i.has_sidecar ? ARFS_SIDECAR_NAME : "none");
	return 0;
}

static int cmd_create(const char *array, char **args, int nargs)
{
	struct arfs_docarray_opts opts = { .key_length = opt_key_length };
	struct arfs_docarray *da;
	int rc = arfs_docarray_create(array, &opts, &da);

	if (rc)
		return fail(array, rc);
	arfs_docarray_close(da);
	return 0;
}

static const struct command commands[] = {
	{ "ls", 0, 0, "ARRAY", "list documents in order", cmd_ls },
	{ "cat", 1, 1, "ARRAY ID", "write a document to stdout", cmd_cat },
	{ "put", 1, 2, "ARRAY ID [FILE|-]", "create or replace a document",
	  cmd_put },
	{ "rm", 1, 1, "ARRAY ID", "delete a document", cmd_rm },
	{ "mv", 2, 2, "ARRAY OLD NEW", "rename a document", cmd_mv },
	{ "check", 0, 0, "ARRAY", "verify every row", cmd_check },
	{ "compact", 0, 0, "ARRAY", "rewrite without dead bytes", cmd_compact },
	{ "info", 0, 0, "ARRAY", "show sizes and counts", cmd_info },
	{ "create", 0, 0, "ARRAY", "create an empty array", cmd_create },
};

static int usage(FILE *f, int status)
{
	fputs(usage_text, f);
	return status;
}

static bool wants_help(int argc, char **argv)
{
	for (int i = 0; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return true;
	return false;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "key-length", required_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const struct command *cmd = NULL;
	char *end;
	int c, nargs;
	size_t i;

	arfs_log_set_prefix("arrayctl");
	while ((c = getopt_long(argc, argv, "+hk:", longopts, NULL)) != -1) {
		switch (c) {
		case 'k':
			opt_key_length = (unsigned)strtoul(optarg, &end, 10);
			if (*end || opt_key_length == 0 || opt_key_length > 1024) {
				fprintf(stderr, "arrayctl: --key-length: "
					"expected 1..1024, got '%s'\n", optarg);
				return 2;
			}
			break;
		case 'h':
			return usage(stdout, 0);
		default:
			return usage(stderr, 2);
		}
	}
	if (optind >= argc)
		return usage(stderr, 2);
	if (optind + 1 < argc &&
	    (arrayctl_is_group(argv[optind + 1]) ||
	     !strcmp(argv[optind], "import") ||
	     !strcmp(argv[optind], "export") ||
	     !strcmp(argv[optind], "convert")) &&
	    !wants_help(argc - optind - 1, argv + optind + 1)) {
		c = arrayctl_group_cmd(argv[optind], argc - optind - 1,
				       argv + optind + 1);
		if (c >= 0)
			return c;
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[optind], commands[i].name))
			cmd = &commands[i];
	if (!cmd) {
		fprintf(stderr, "arrayctl: unknown command '%s'\n", argv[optind]);
		return usage(stderr, 2);
	}
	if (wants_help(argc - optind - 1, argv + optind + 1)) {
		printf("usage: arrayctl %s %s\n  %s\n", cmd->name, cmd->args,
		       cmd->help);
		return 0;
	}
	nargs = argc - optind - 2;
	if (nargs < cmd->nargs_min || nargs > cmd->nargs_max) {
		fprintf(stderr, "usage: arrayctl %s %s\n", cmd->name, cmd->args);
		return 2;
	}
	return cmd->run(argv[optind + 1], argv + optind + 2, nargs);
}
