#include "util/size.h"

#include <ctype.h>
#include <errno.h>
#include <strings.h>

/* Reads the leading decimal digits; refuses signs, spaces and empty numbers that strtoull allows. */
static int digits_parse(const char **p, uint64_t *out)
{
	uint64_t v = 0;
	const char *s = *p;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	for (; isdigit((unsigned char)*s); s++) {
		unsigned d = (unsigned)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	*p = s;
	*out = v;
	return 0;
}

int size_parse(const char *text, uint64_t *bytes)
{
	static const char units[] = "KMGT";
	const char *p = text;
	uint64_t v;
	unsigned shift = 20;
	int rc;

	if (!text)
		return -EINVAL;
	rc = digits_parse(&p, &v);
	if (rc)
		return rc;
	if (*p) {
		const char *u = index(units, toupper((unsigned char)*p));
		if (!u)
			return -EINVAL;
		shift = 10 * (unsigned)(u - units + 1);
		p++;
		if (*p == 'i' || *p == 'I')
			p++;
		if (*p == 'b' || *p == 'B')
			p++;
		if (*p)
			return -EINVAL;
	}
	if (v > (UINT64_MAX >> shift))
		return -ERANGE;
	*bytes = v << shift;
	return 0;
}

int uint_parse(const char *text, uint64_t min, uint64_t max, uint64_t *out)
{
	const char *p = text;
	uint64_t v;
	int rc;

	if (!text)
		return -EINVAL;
	rc = digits_parse(&p, &v);
	if (rc)
		return rc;
	if (*p)
		return -EINVAL;
	if (v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}
