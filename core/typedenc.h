/*
 * typedenc.h - encode values into Turi typed-block payloads (SFrame v2
 * "typed blocks"), the inverse of typed.h's decoder. The byte format is
 * in docs/FORMAT.md, "Typed block payload"; the choices this encoder
 * makes are in "Encoder choices".
 *
 * A struct arfs_typedenc collects the values of one block of one column in
 * a compact form (no per-value structs): present values in typed arrays,
 * missing rows in a bitmap. arfs_typedenc_encode() turns them into one
 * payload, picking per frame of 128 numbers the technique and width that
 * take the fewest bytes, per string block dictionary or direct storage,
 * per float block the legacy or the integral form, whichever is smaller.
 *
 * Invariants: n == k + (missing rows); for FLOAT, u[] holds the doubles'
 * bits; for STRING, u[] holds lengths and bytes[] the strings back to
 * back; for VECTOR, u[] holds lengths and d[] the elements back to back;
 * for LIST, DICT, DATETIME and IMAGE, u[] holds lengths and bytes[] each
 * value's serialized body (typedser.h) back to back; for NDVECTOR, u[]
 * holds each array's dimension count, nel[] its element count, dims[] the
 * shapes back to back and d[] the elements in C order.
 *
 * Every column type is supported, as Turi writes it (FORMAT.md 2.10):
 * int, float, str, vector and ndarray with their own codes, list, dict,
 * datetime and image as serialized values, undefined (only missing
 * values). A type number past ndarray is -EOPNOTSUPP at init.
 *
 * Ownership: the struct is caller memory (_init/_release); it owns its
 * arrays. Thread safety: none; one encoder per thread.
 *
 * Errors: -ENOMEM; -EINVAL for a value whose type is not the column's;
 * -EOVERFLOW past 2^24 values (the per-block limit of FORMAT.md 2.6).
 */
#ifndef ARFS_TYPEDENC_H
#define ARFS_TYPEDENC_H

#include <stddef.h>
#include <stdint.h>

struct arfs_textbuf;
struct arfs_value;

#define ARFS_TYPEDENC_MAX_ROWS (1u << 24)

struct arfs_typedenc {
	unsigned type;		/* enum arfs_ftype of the column */
	uint64_t n;		/* rows added */
	uint64_t k;		/* present (not missing) values */
	uint64_t *miss;		/* bitmap, bit i = row i missing */
	size_t miss_cap;	/* words */
	uint64_t *u;		/* [k] ints, float bits, or lengths */
	size_t u_cap;
	double *d;		/* vector elements */
	size_t d_len, d_cap;
	char *bytes;		/* string bytes, serialized values */
	size_t b_len, b_cap;
	uint64_t *nel;		/* NDVECTOR: [k] element counts */
	size_t nel_cap;
	uint64_t *dims;		/* NDVECTOR: shapes back to back */
	size_t dims_len, dims_cap;
	uint64_t raw;		/* rough size of the values, for block sizing */
};

/* Set up an empty encoder for a column of `type`: 0 or -EOPNOTSUPP. */
int arfs_typedenc_init(struct arfs_typedenc *enc, unsigned type);
/* Free the arrays; enc may be re-initialised. */
void arfs_typedenc_release(struct arfs_typedenc *enc);
/* Forget the values, keep the memory (next block). */
void arfs_typedenc_reset(struct arfs_typedenc *enc);

/* Append one row. The value is copied. 0, -ENOMEM, -EINVAL, -EOVERFLOW. */
int arfs_typedenc_add_missing(struct arfs_typedenc *enc);
int arfs_typedenc_add_int(struct arfs_typedenc *enc, int64_t v);
int arfs_typedenc_add_float(struct arfs_typedenc *enc, double v);
int arfs_typedenc_add_str(struct arfs_typedenc *enc, const char *s,
			  size_t len);
int arfs_typedenc_add_vec(struct arfs_typedenc *enc, const double *v,
			  size_t n);
/*
 * A value (typed.h): its type must be the column's or undefined. This is
 * the only way to add list, dict, datetime, image and ndarray values; an
 * ndarray is stored compact (C order). -EINVAL also for a value typedser.h
 * cannot write.
 */
int arfs_typedenc_add_value(struct arfs_typedenc *enc,
			    const struct arfs_value *v);

/*
 * Append the payload of the rows added so far to out. *flags receives the
 * block_info flags the payload needs (ARFS_BLOCK_TYPED, and
 * ARFS_BLOCK_EXTENSION when a float body uses the integral form).
 * The encoder is unchanged (call _reset for the next block).
 * 0 or -ENOMEM.
 */
int arfs_typedenc_encode(const struct arfs_typedenc *enc,
			 struct arfs_textbuf *out, uint64_t *flags);

/* The building blocks, exposed for tests: append Turi's varint, and the
 * number stream of n values (frames of 128). 0 or -ENOMEM. */
int arfs_typedenc_varint(struct arfs_textbuf *out, uint64_t v);
int arfs_typedenc_numbers(struct arfs_textbuf *out, const uint64_t *v,
			  uint64_t n);

#endif
