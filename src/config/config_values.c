/* Small value parsers shared by the --disk and --net options (and later the API). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "config/vm_config.h"

bool config_id_valid(const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n >= sizeof(((struct disk_config *)0)->id))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(id[i] == '-' || id[i] == '_' || (id[i] >= '0' && id[i] <= '9') ||
		      (id[i] >= 'a' && id[i] <= 'z') || (id[i] >= 'A' && id[i] <= 'Z')))
			return false;
	return true;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int mac_parse(const char *text, uint8_t mac[6])
{
	bool zero = true;

	if (strlen(text) != 17)
		return -EINVAL;
	for (unsigned i = 0; i < 6; i++) {
		int hi = hex_digit(text[3 * i]), lo = hex_digit(text[3 * i + 1]);

		if (hi < 0 || lo < 0 || (i < 5 && text[3 * i + 2] != ':'))
			return -EINVAL;
		mac[i] = (uint8_t)(hi << 4 | lo);
		zero = zero && !mac[i];
	}
	return zero || (mac[0] & 1) ? -EINVAL : 0;
}
