/*
 * util.h - small helpers every core module uses: little-endian byte access,
 * logging, checked arithmetic, a growable byte buffer.
 *
 * Bytes on disk are read and written with get_le*()/put_le*() from byte
 * buffers, never by casting to packed structs (see docs/FORMAT.md).
 *
 * Thread safety: all functions here are safe to call from any thread.
 */
#ifndef ARFS_UTIL_H
#define ARFS_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint16_t get_le16(const void *p)
{
	const uint8_t *b = p;
	return (uint16_t)(b[0] | (b[1] << 8));
}

static inline uint32_t get_le32(const void *p)
{
	const uint8_t *b = p;
	return (uint32_t)b[0] | ((uint32_t)b[1] << 8) | ((uint32_t)b[2] << 16) |
	       ((uint32_t)b[3] << 24);
}

static inline uint64_t get_le64(const void *p)
{
	const uint8_t *b = p;
	return (uint64_t)get_le32(b) | ((uint64_t)get_le32(b + 4) << 32);
}

static inline void put_le16(void *p, uint16_t v)
{
	uint8_t *b = p;
	b[0] = (uint8_t)v;
	b[1] = (uint8_t)(v >> 8);
}

static inline void put_le32(void *p, uint32_t v)
{
	uint8_t *b = p;
	b[0] = (uint8_t)v;
	b[1] = (uint8_t)(v >> 8);
	b[2] = (uint8_t)(v >> 16);
	b[3] = (uint8_t)(v >> 24);
}

static inline void put_le64(void *p, uint64_t v)
{
	put_le32(p, (uint32_t)v);
	put_le32((uint8_t *)p + 4, (uint32_t)(v >> 32));
}

/* Log levels, numerically equal to syslog's so fs/ can pass them through. */
enum arfs_log_level {
	ARFS_LOG_ERR = 3,
	ARFS_LOG_WARNING = 4,
	ARFS_LOG_INFO = 6,
	ARFS_LOG_DEBUG = 7,
};

/*
 * arfs_log - report a message. Core never prints by itself: it calls the
 * sink installed with arfs_log_set_sink() (default: stderr, "arrayfs: ...",
 * messages above ARFS_LOG_INFO dropped unless arfs_log_set_level() says so).
 */
void arfs_log(enum arfs_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

typedef void (*arfs_log_sink)(enum arfs_log_level level, const char *msg);

/* Install a sink (NULL restores the stderr default). Call before threads start. */
void arfs_log_set_sink(arfs_log_sink sink);
/* Messages with level > max are dropped. */
void arfs_log_set_level(enum arfs_log_level max);
/* Prefix for the default stderr sink, e.g. "arrayctl". Not copied. */
void arfs_log_set_prefix(const char *prefix);

/*
 * Write code point cp (at most 0x10ffff) as UTF-8 at d, which has room
 * for 4 bytes; returns the number of bytes written (1-4).
 */
size_t arfs_utf8_put(char *d, uint32_t cp);

/*
 * A growable byte buffer for building a file's image in memory. A failed
 * allocation sets oom and later puts do nothing, so callers check once
 * at the end. Zero-initialise it; the caller frees p.
 */
struct arfs_bytes {
	uint8_t *p;
	size_t len, cap;
	bool oom;
};

void arfs_bytes_put(struct arfs_bytes *b, const void *src, size_t n);
/* v in little-endian order */
void arfs_bytes_u32(struct arfs_bytes *b, uint32_t v);
void arfs_bytes_u64(struct arfs_bytes *b, uint64_t v);

/* a + b into *out; true on overflow (then *out is unspecified). */
static inline bool arfs_add_overflows(uint64_t a, uint64_t b, uint64_t *out)
{
	return __builtin_add_overflow(a, b, out);
}

#endif
