/*
 * fuzz_idname.c - the name rule of core/idname.c (promise 3). The input
 * is read twice: as a file name (bytes), and as stored code points (u32
 * little-endian). Every name made from code points must be a safe file
 * name (no '/', no NUL, not "." or "..", non-empty) and read back to the
 * same code points; a name that parses must survive a round trip.
 */
#include "idname.h"
#include "fuzz_util.h"

#define CAP 1100

static void check_name(const char *name, size_t len)
{
	if (len == 0 || memchr(name, '/', len) || memchr(name, 0, len) ||
	    (len == 1 && name[0] == '.') ||
	    (len == 2 && name[0] == '.' && name[1] == '.'))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint32_t cps[CAP], back[CAP];
	static char name[CAP * 12], name2[CAP * 12];
	size_t n = size / 4 < CAP ? size / 4 : CAP;
	ssize_t len, m, len2;

	for (size_t i = 0; i < n; i++)
		cps[i] = fz_le32(data + 4 * i);
	len = arfs_idname_from_cps(cps, n, name, sizeof(name));
	if (len >= 0) {
		check_name(name, (size_t)len);
		m = arfs_idname_to_cps(name, (size_t)len, back, CAP);
		/* the empty id is written %00, which reads back as U+0000 */
		if (n && (m != (ssize_t)n || memcmp(back, cps, n * 4)))
			abort();
	}
	m = arfs_idname_to_cps((const char *)data, size, cps, CAP);
	if (m > 0) {
		len = arfs_idname_from_cps(cps, (size_t)m, name, sizeof(name));
		if (len < 0)
			abort();
		check_name(name, (size_t)len);
		len2 = arfs_idname_to_cps(name, (size_t)len, back, CAP);
		if (len2 != m || memcmp(back, cps, (size_t)m * 4))
			abort();
		len2 = arfs_idname_from_cps(back, (size_t)len2, name2,
					    sizeof(name2));
		if (len2 != len || memcmp(name, name2, (size_t)len))
			abort();
	}
	len = arfs_idname_from_utf8((const char *)data, size, name, sizeof(name));
	if (len >= 0 && size)
		check_name(name, (size_t)len);
	return 0;
}
