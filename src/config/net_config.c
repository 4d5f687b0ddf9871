#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>

#include "config/vm_config.h"

static int net_key(struct net_config *n, char *item, struct config_error *err)
{
	char *eq = strchr(item, '=');

	if (!eq || eq == item || !eq[1]) {
		snprintf(err->msg, sizeof(err->msg), "--net: '%s' is not key=value", item);
		return -EINVAL;
	}
	*eq = '\0';
	if (!strcmp(item, "tap") && !n->tap)
		n->tap = eq + 1;
	else if (!strcmp(item, "socket") && !n->socket)
		n->socket = eq + 1;
	else if (!strcmp(item, "mac") && !n->mac_set) {
		if (mac_parse(eq + 1, n->mac)) {
			snprintf(err->msg, sizeof(err->msg),
				 "--net: mac '%s' is not a unicast address like 02:00:00:00:00:01",
				 eq + 1);
			return -EINVAL;
		}
		n->mac_set = true;
	} else if (!strcmp(item, "id") && config_id_valid(eq + 1))
		snprintf(n->id, sizeof(n->id), "%s", eq + 1);
	else if (!strcmp(item, "id")) {
		snprintf(err->msg, sizeof(err->msg),
			 "--net: id '%s' must be 1-31 letters, digits, '-' or '_'", eq + 1);
		return -EINVAL;
	} else {
		snprintf(err->msg, sizeof(err->msg), "--net: unknown or repeated key '%s'", item);
		return -EINVAL;
	}
	return 0;
}

int net_config_parse(const char *text, struct net_config *n, struct config_error *err)
{
	char *save = NULL;

	memset(n, 0, sizeof(*n));
	if (strlen(text) >= sizeof(n->spec)) {
		snprintf(err->msg, sizeof(err->msg), "--net: value too long");
		return -EINVAL;
	}
	snprintf(n->spec, sizeof(n->spec), "%s", text);
	for (char *item = strtok_r(n->spec, ",", &save); item; item = strtok_r(NULL, ",", &save))
		if (net_key(n, item, err))
			return -EINVAL;
	if (!n->tap == !n->socket) {
		snprintf(err->msg, sizeof(err->msg),
			 "--net: give exactly one of tap=NAME or socket=PATH");
		return -EINVAL;
	}
	if (n->tap && strlen(n->tap) >= IFNAMSIZ) {
		snprintf(err->msg, sizeof(err->msg), "--net: tap name '%s' longer than %d bytes",
			 n->tap, IFNAMSIZ - 1);
		return -EINVAL;
	}
	if (n->socket && n->mac_set) {
		snprintf(err->msg, sizeof(err->msg),
			 "--net: mac applies to tap=; a socket backend decides its MAC itself");
		return -EINVAL;
	}
	return 0;
}
