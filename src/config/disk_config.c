#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "config/vm_config.h"

static int disk_key(struct disk_config *d, char *item, struct config_error *err)
{
	char *eq = strchr(item, '=');

	if (!strcmp(item, "ro")) {
		d->read_only = true;
		return 0;
	}
	if (!eq || eq == item || !eq[1]) {
		snprintf(err->msg, sizeof(err->msg), "--disk: '%s' is not key=value or ro", item);
		return -EINVAL;
	}
	*eq = '\0';
	if (!strcmp(item, "path") && !d->path)
		d->path = eq + 1;
	else if (!strcmp(item, "socket") && !d->socket)
		d->socket = eq + 1;
	else if (!strcmp(item, "id") && config_id_valid(eq + 1))
		snprintf(d->id, sizeof(d->id), "%s", eq + 1);
	else if (!strcmp(item, "id")) {
		snprintf(err->msg, sizeof(err->msg),
			 "--disk: id '%s' must be 1-31 letters, digits, '-' or '_'", eq + 1);
		return -EINVAL;
	} else {
		snprintf(err->msg, sizeof(err->msg), "--disk: unknown or repeated key '%s'", item);
		return -EINVAL;
	}
	return 0;
}

int disk_config_parse(const char *text, struct disk_config *d, struct config_error *err)
{
	char *save = NULL;

	memset(d, 0, sizeof(*d));
	if (strlen(text) >= sizeof(d->spec)) {
		snprintf(err->msg, sizeof(err->msg), "--disk: value too long");
		return -EINVAL;
	}
	snprintf(d->spec, sizeof(d->spec), "%s", text);
	for (char *item = strtok_r(d->spec, ",", &save); item; item = strtok_r(NULL, ",", &save))
		if (disk_key(d, item, err))
			return -EINVAL;
	if (!d->path == !d->socket) {
		snprintf(err->msg, sizeof(err->msg),
			 "--disk: give exactly one of path=IMAGE or socket=PATH");
		return -EINVAL;
	}
	if (d->socket && d->read_only) {
		snprintf(err->msg, sizeof(err->msg),
			 "--disk: ro applies to path=; a socket backend decides itself");
		return -EINVAL;
	}
	return 0;
}
