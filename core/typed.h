/*
 * typed.h - decode Turi typed-block payloads (SFrame v2 "typed blocks")
 * into values: integers, floats, strings, vectors, and the generic tagged
 * values of multi-type blocks (lists, dicts, datetimes, images, nd-arrays).
 * The byte format is in docs/FORMAT.md, "Typed block payload".
 *
 * Input bytes are untrusted: every read is bounds-checked, a payload that
 * ends early or leaves bytes over is -EUCLEAN (logged once with `where`
 * and the payload offset), and allocation sizes are bounded by the bytes
 * that could encode them.
 *
 * Ownership: arfs_typed_decode() returns a struct arfs_values that owns
 * every byte its values point to (one arena); nothing points into the
 * payload, which the caller may free at once. Free with arfs_values_free().
 *
 * Thread safety: decoding touches only its arguments; a decoded
 * struct arfs_values is immutable and may be read from any thread.
 */
#ifndef ARFS_TYPED_H
#define ARFS_TYPED_H

#include <stddef.h>
#include <stdint.h>

struct arfs_block_info;

/* Turi's flex_type_enum: the number stored in .sidx "__type__" too. */
enum arfs_ftype {
	ARFS_FT_INTEGER = 0,
	ARFS_FT_FLOAT = 1,
	ARFS_FT_STRING = 2,
	ARFS_FT_VECTOR = 3,
	ARFS_FT_LIST = 4,
	ARFS_FT_DICT = 5,
	ARFS_FT_DATETIME = 6,
	ARFS_FT_UNDEFINED = 7,
	ARFS_FT_IMAGE = 8,
	ARFS_FT_NDVECTOR = 9,
	ARFS_FT_COUNT
};

/* Image formats (Turi's image_type Format enum, stored as a u64). */
enum arfs_img_format {
	ARFS_IMG_JPEG = 0,
	ARFS_IMG_PNG = 1,
	ARFS_IMG_RAW = 2,
	ARFS_IMG_UNDEFINED = 3
};

/* No time zone recorded in a datetime. */
#define ARFS_TZ_NONE 64

struct arfs_value {
	uint8_t type;		/* enum arfs_ftype */
	union {
		int64_t i;
		double f;
		struct { const char *p; uint64_t len; } str;
		struct { const double *v; uint64_t n; } vec;
		/* LIST: n items; DICT: n pairs, v[2k] key, v[2k+1] value */
		struct { const struct arfs_value *v; uint64_t n; } list;
		/* seconds since 1970 UTC; tz in 15 minute units or
		 * ARFS_TZ_NONE; microseconds 0..999999 */
		struct { int64_t ts; int32_t tz; int32_t us; } dt;
		struct {
			uint64_t height, width, channels, size;
			const uint8_t *data;
			int32_t format;	/* enum arfs_img_format */
			uint8_t version;
		} img;
		struct {
			uint64_t ndim, n;	/* dimensions, elements */
			const uint64_t *shape, *stride;
			const double *v;
		} nd;
	} u;
};

struct arfs_arena;

struct arfs_values {
	uint64_t n;
	struct arfs_value *v;	/* [n], row order */
	struct arfs_arena *arena; /* private */
};

/* Name of a type ("int", "float", "str", "vector", ...); "?" if unknown. */
const char *arfs_ftype_name(unsigned type);

/*
 * Decode the (already decompressed) payload of block `bi` into bi->num_elem
 * values. `where` names the block in messages (e.g. "m_x.0000:3 block 2").
 * Returns 0 with *out owned by the caller, -EUCLEAN on corrupt bytes,
 * -ENOMEM.
 */
int arfs_typed_decode(const struct arfs_block_info *bi, const void *payload,
		      size_t len, const char *where, struct arfs_values **out);
void arfs_values_free(struct arfs_values *vals);

/*
 * The number stream on its own (exposed for tests and writers): decode n
 * unsigned 64-bit integers from buf[*pos..len) in frames of up to 128,
 * advancing *pos. 0 or -EUCLEAN (not logged).
 */
int arfs_typed_decode_numbers(const uint8_t *buf, size_t len, size_t *pos,
			      uint64_t n, uint64_t *out);
/* The variable-length integer: 0 or -EUCLEAN (not logged). */
int arfs_typed_decode_varint(const uint8_t *buf, size_t len, size_t *pos,
			     uint64_t *out);

#endif
