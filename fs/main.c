/*
 * main.c - the arrayfs daemon: parse options, open the store, mount, loop.
 *
 *   arrayfs [options] STORE MOUNTPOINT
 *
 * Runs in the background by default (logging to syslog), in the foreground
 * with -f (logging to stderr). See docs/arrayfs.1.
 */
#include "ll.h"
#include "blockmgr.h"
#include "textsize.h"
#include "util.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

struct options {
	char *store;
	char *pool;
	char *cache_dir;
	char *views;
	char *autocompact, *autocompact_min;
	unsigned key_length;
	int decode_threads;
	int poll_us;
	int ro;
	int show_help, show_version;
};

#define OPT(t, p) { t, offsetof(struct options, p), 1 }
static const struct fuse_opt option_spec[] = {
	OPT("pool=%s", pool),
	OPT("cache_dir=%s", cache_dir),
	OPT("views=%s", views),
	OPT("key_length=%u", key_length),
	OPT("autocompact=%s", autocompact),
	OPT("autocompact_min=%s", autocompact_min),
	OPT("decode_threads=%d", decode_threads),
	OPT("poll=%d", poll_us),
	OPT("ro", ro),
	FUSE_OPT_KEY("ro", FUSE_OPT_KEY_KEEP),
	/* fstab words that reach us when mount.fuse3 is called by hand */
	FUSE_OPT_KEY("defaults", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("auto", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("noauto", FUSE_OPT_KEY_DISCARD),
	OPT("-h", show_help),
	OPT("--help", show_help),
	OPT("-V", show_version),
	OPT("--version", show_version),
	FUSE_OPT_END
};

static const char usage_text[] =
	"usage: arrayfs [options] STORE MOUNTPOINT\n"
	"\n"
	"Mounts the document arrays in STORE (DocArray memmap layout) as\n"
	"folders of per-document files, and its segment groups (Turi SFrame v2)\n"
	"as folders of column folders of text block files.\n"
	"Unmount with fusermount3 -u MOUNTPOINT.\n"
	"\n"
	"arrayfs options:\n"
	"    -o ro                  read-only; follows a writer's commits\n"
	"    -o pool=SIZE           buffer pool size (K, M, G suffixes; default 256M)\n"
	"    -o key_length=N        id length of arrays without a sidecar (default 36)\n"
	"    -o autocompact=RATIO   compact an array when its dead bytes pass RATIO\n"
	"                           of its size (default 0.5); off: never\n"
	"    -o autocompact_min=SIZE  ... and pass SIZE (default 64M)\n"
	"    -o decode_threads=N    threads decoding blocks ahead of readers\n"
	"                           (default: one per CPU; 0: none)\n"
	"    -o cache_dir=DIR       where block size caches go (default\n"
	"                           $XDG_CACHE_HOME/arrayfs, ~/.cache/arrayfs,\n"
	"                           /var/cache/arrayfs for root)\n"
	"    -o views=MODE          the views folder MOUNTPOINT/.views: hidden\n"
	"                           (default: not listed, reached by its path),\n"
	"                           visible (listed) or off\n"
	"    -f                     foreground, log to stderr\n"
	"    -d                     debug (implies -f)\n"
	"    -o poll=USEC           after a request, poll for the next one for\n"
	"                           USEC microseconds before sleeping (default\n"
	"                           1000; 0: sleep at once)\n"
	"    -s                     single-threaded\n"
	"    -o allow_other         let other users in (needs user_allow_other)\n"
	"    -h, --help             this text\n"
	"    -V, --version          print the version\n"
	"\n";

static int opt_proc(void *data, const char *arg, int key,
		    struct fuse_args *outargs)
{
	struct options *o = data;

	if (key == FUSE_OPT_KEY_NONOPT && !o->store) {
		o->store = strdup(arg);
		return 0;
	}
	return 1;
}

static int parse_size(const char *s, size_t *out)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);

	switch (*end) {
	case 'k': case 'K': v <<= 10; end++; break;
	case 'm': case 'M': v <<= 20; end++; break;
	case 'g': case 'G': v <<= 30; end++; break;
	default: break;
	}
	if (end == s || *end)
		return -EINVAL;
	*out = (size_t)v;
	return 0;
}

static void syslog_sink(enum arfs_log_level level, const char *msg)
{
	syslog((int)level, "%s", msg);
}

static int open_pool(const char *spec, const char *staging)
{
	struct arfs_bufpool_opts po = {
		.max_bytes = 256u << 20,
		.max_entries = 65536,
		.staging_dir = staging,
	};

	if (spec && parse_size(spec, &po.max_bytes)) {
		fprintf(stderr, "arrayfs: pool=%s: expected a size like 256M\n",
			spec);
		return -EINVAL;
	}
	/* One document may use a sixteenth of the pool before it spills. */
	po.spill_threshold = po.max_bytes / 16;
	if (po.spill_threshold < (64u << 10))
		po.spill_threshold = 64u << 10;
	return arfs_bufpool_new(&po, &arfs_fs.pool);
}

/*
 * The size cache directory, absolute (the daemon changes to / when it
 * goes to the background): -o cache_dir, else the default. NULL when
 * there is none (no HOME): sizes are then rendered at every mount.
 */
static char *cache_dir(const char *opt)
{
	char def[PATH_MAX], *out, *cwd;

	if (!opt) {
		if (arfs_textsize_default_dir(def, sizeof(def))) {
			arfs_log(ARFS_LOG_INFO, "no cache directory (set "
				 "-o cache_dir): block sizes are not cached");
			return NULL;
		}
		opt = def;
	}
	if (opt[0] == '/')
		return strdup(opt);
	cwd = getcwd(NULL, 0);
	if (!cwd || asprintf(&out, "%s/%s", cwd, opt) < 0)
		out = NULL;
	free(cwd);
	return out;
}

/* -o autocompact=off|RATIO and -o autocompact_min=SIZE into so. */
static int parse_autocompact(const struct options *o,
			     struct arfs_store_opts *so)
{
	char *end;
	size_t min;

	if (o->autocompact && !strcmp(o->autocompact, "off")) {
		so->autocompact = -1;
	} else if (o->autocompact) {
		so->autocompact = strtod(o->autocompact, &end);
		if (end == o->autocompact || *end || !(so->autocompact > 0) ||
		    so->autocompact >= 1) {
			fprintf(stderr, "arrayfs: autocompact=%s: expected off or "
				"a ratio between 0 and 1 like 0.5\n",
				o->autocompact);
			return -EINVAL;
		}
	}
	if (o->autocompact_min) {
		if (parse_size(o->autocompact_min, &min) || min == 0) {
			fprintf(stderr, "arrayfs: autocompact_min=%s: expected a "
				"size like 64M\n", o->autocompact_min);
			return -EINVAL;
		}
		so->autocompact_min = min;
	}
	return 0;
}

/* Pool, block manager and store, in that order (each uses the one before). */
static int open_engine(const struct options *o)
{
	struct arfs_blockmgr_opts bo = { 0 };
	char *cdir;
	struct arfs_store_opts so = { .read_only = o->ro,
				      .key_length = o->key_length };
	char *real = realpath(o->store, NULL);
	int rc;

	if (!real) {
		fprintf(stderr, "arrayfs: %s: %s\n", o->store, strerror(errno));
		return -errno;
	}
	rc = parse_autocompact(o, &so);
	if (rc) {
		free(real);
		return rc;
	}
	rc = open_pool(o->pool, real);
	free(real);
	if (rc)
		return rc;
	bo.pool = arfs_fs.pool;
	bo.workers = o->decode_threads >= 0 ? (unsigned)o->decode_threads :
		     (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
	cdir = cache_dir(o->cache_dir);
	bo.cache_dir = cdir;
	rc = arfs_blockmgr_new(&bo, &arfs_fs.mgr);
	free(cdir);
	so.mgr = arfs_fs.mgr;
	if (!rc)
		rc = arfs_store_open(o->store, &so, &arfs_fs.store);
	if (rc) {
		fprintf(stderr, "arrayfs: %s: cannot open the store: %s\n",
			o->store, strerror(-rc));
		arfs_blockmgr_free(arfs_fs.mgr);
		arfs_bufpool_free(arfs_fs.pool);
	}
	return rc;
}

static int run(struct fuse_args *args, struct fuse_cmdline_opts *co,
	       const char *mountpoint, int poll_us)
{
	struct fuse_loop_config *lc;
	int rc = 1;

	arfs_fs.se = fuse_session_new(args, &arfs_ll_ops, sizeof(arfs_ll_ops),
				      NULL);
	if (!arfs_fs.se)
		return 1;
	if (fuse_set_signal_handlers(arfs_fs.se))
		goto out_destroy;
	if (fuse_session_mount(arfs_fs.se, mountpoint))
		goto out_signals;
	if (!co->foreground) {
		openlog("arrayfs", LOG_PID, LOG_DAEMON);
		arfs_log_set_sink(syslog_sink);
	}
	fuse_daemonize(co->foreground);
	if (co->singlethread) {
		rc = fuse_session_loop(arfs_fs.se);
	} else if (poll_us > 0) {
		rc = arfs_loop_run(arfs_fs.se, (unsigned)poll_us,
				   co->max_threads <= 100000 ? co->max_threads :
				   10);
	} else {
		lc = fuse_loop_cfg_create();
		fuse_loop_cfg_set_clone_fd(lc, co->clone_fd);
		if (co->max_threads <= 100000)
			fuse_loop_cfg_set_max_threads(lc, co->max_threads);
		if (co->max_idle_threads != UINT_MAX)
			fuse_loop_cfg_set_idle_threads(lc, co->max_idle_threads);
		rc = fuse_session_loop_mt(arfs_fs.se, lc);
		fuse_loop_cfg_destroy(lc);
	}
	/* libfuse's loops return the number of the signal that ended them:
	 * asked to stop, a clean exit. */
	if (rc > 0)
		rc = 0;
	fuse_session_unmount(arfs_fs.se);
out_signals:
	fuse_remove_signal_handlers(arfs_fs.se);
out_destroy:
	fuse_session_destroy(arfs_fs.se);
	return rc ? 1 : 0;
}

/* Write back whatever is still dirty and close everything. */
static int shutdown_store(void)
{
	int rc = arfs_bufpool_flush(arfs_fs.pool);

	if (rc)
		arfs_log(ARFS_LOG_ERR, "write-back at unmount failed: %s",
			 strerror(-rc));
	arfs_views_shutdown();
	arfs_grp_shutdown();
	arfs_inode_shutdown();
	arfs_store_close(arfs_fs.store);
	arfs_blockmgr_free(arfs_fs.mgr);
	arfs_bufpool_free(arfs_fs.pool);
	return rc;
}

int main(int argc, char **argv)
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts co;
	struct options o = { .decode_threads = -1, .poll_us = 1000 };
	int rc = 1;

	if (fuse_opt_parse(&args, &o, option_spec, opt_proc))
		return 1;
	if (o.show_version) {
		printf("arrayfs %s (FUSE %s)\n", ARFS_VERSION, fuse_pkgversion());
		return 0;
	}
	if (o.show_help) {
		fputs(usage_text, stdout);
		fuse_cmdline_help();
		fuse_lowlevel_help();
		return 0;
	}
	if (fuse_parse_cmdline(&args, &co))
		goto out_args;
	if (!o.store || !co.mountpoint) {
		fputs(usage_text, stderr);
		goto out_opts;
	}
	if (co.debug)
		arfs_log_set_level(ARFS_LOG_DEBUG);
	/* Permission checks by the kernel, against the stored mode/uid/gid. */
	fuse_opt_add_arg(&args, "-odefault_permissions");
	fuse_opt_add_arg(&args, "-ofsname=arrayfs");
	fuse_opt_add_arg(&args, "-osubtype=arrayfs");
	/* No access time is stored; without noatime the kernel refetches
	 * attributes after every read just to learn an unchanged atime. */
	fuse_opt_add_arg(&args, "-onoatime");
	if (!o.views || !strcmp(o.views, "hidden")) {
		arfs_fs.views = ARFS_VIEWS_HIDDEN;
	} else if (!strcmp(o.views, "visible")) {
		arfs_fs.views = ARFS_VIEWS_VISIBLE;
	} else if (!strcmp(o.views, "off")) {
		arfs_fs.views = ARFS_VIEWS_OFF;
	} else {
		fprintf(stderr, "arrayfs: views=%s: expected hidden, visible "
			"or off\n", o.views);
		goto out_opts;
	}
	if (o.poll_us < 0 || o.poll_us > 1000000) {
		fprintf(stderr, "arrayfs: poll=%d: expected 0 to 1000000 "
			"microseconds\n", o.poll_us);
		goto out_opts;
	}
	arfs_fs.ro = o.ro;
	arfs_fs.timeout = o.ro ? 1.0 : 60.0;
	arfs_inode_init();
	rc = open_engine(&o);
	if (rc) {
		rc = 1;
		goto out_opts;
	}
	rc = run(&args, &co, co.mountpoint, o.poll_us);
	if (shutdown_store())
		rc = 1;
out_opts:
	free(co.mountpoint);
out_args:
	free(o.store);
	free(o.pool);
	free(o.cache_dir);
	free(o.views);
	free(o.autocompact);
	free(o.autocompact_min);
	fuse_opt_free_args(&args);
	return rc;
}
