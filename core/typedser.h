/*
 * typedser.h - Turi's serialized form of one flexible value (the body an
 * oarchive writes for flexible_type), used for the values of list, dict,
 * datetime and image columns in typed blocks and for items nested in lists
 * and dicts. The bytes are in docs/FORMAT.md 2.7.4 and 2.7.5; typed.c reads
 * them.
 *
 *   tagged value   u8 128 + type, then the untagged body
 *   int            i64          float   binary64
 *   str            u64 n, n bytes
 *   vector         u64 n, n binary64
 *   list           u64 n, n tagged values
 *   dict           u64 n, n x (tagged key, tagged value)
 *   datetime       12 bytes (2.7.4, always the new form)
 *   undefined      nothing
 *   image          u8 version, u64 height, width, channels, format, size,
 *                  size bytes
 *   ndarray        u8 0, u64 n + shape, u64 n + strides, u64 n + binary64
 *                  (written compact: C order, strides of a full array)
 *
 * Functions append to a struct arfs_textbuf (textval.h) and return 0,
 * -ENOMEM, or -EINVAL for a value that cannot be written (nesting deeper
 * than 64, a type number past ndarray, an ndarray whose shape and strides
 * run past its elements). Thread safety: none needed.
 */
#ifndef ARFS_TYPEDSER_H
#define ARFS_TYPEDSER_H

#include <stdint.h>

struct arfs_textbuf;
struct arfs_value;

/* Append v's untagged body. */
int arfs_typedser_body(struct arfs_textbuf *out, const struct arfs_value *v);
/* Append v as a tagged value (tag byte, body). */
int arfs_typedser_tagged(struct arfs_textbuf *out, const struct arfs_value *v);

/*
 * The elements of an ndarray in C order (last index fastest), the order
 * text and compact storage use: calls fn(ctx, x) for each element.
 * -EINVAL if shape/strides reach past the elements.
 */
int arfs_typedser_nd_walk(const struct arfs_value *v,
			  int (*fn)(void *ctx, double x), void *ctx);

#endif
