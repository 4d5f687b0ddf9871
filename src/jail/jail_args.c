#include "jail/jail_args.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "jail/jail_cgroup.h"
#include "util/size.h"

typedef int (*jail_flag_fn)(struct jail_args *a, const char *value, struct jail_error *err);

struct jail_flag {
	const char *name;
	bool takes_value;
	jail_flag_fn set;
};

static int fail(struct jail_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct jail_error *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

bool jail_id_valid(const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n > JAIL_ID_MAX)
		return false;
	return strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

const char *jail_file_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

int jail_chroot_path(const char *base, const char *exec_file, const char *id, char *buf, size_t len)
{
	const char *name = jail_file_name(exec_file);
	size_t blen = strlen(base);
	int n;

	if (!*name || !strcmp(name, ".") || !strcmp(name, ".."))
		return -EINVAL;
	while (blen > 0 && base[blen - 1] == '/')
		blen--;
	n = snprintf(buf, len, "%.*s/%s/%s/root", (int)blen, base, name, id);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int jail_cgroup_setting_parse(const char *text, struct jail_cgroup_setting *s,
			      struct jail_error *err)
{
	const char *eq = strchr(text, '=');
	size_t klen = eq ? (size_t)(eq - text) : 0;

	if (!eq)
		return fail(err, "--cgroup %s: expected key=value (e.g. memory.max=536870912)",
			    text);
	if (klen >= sizeof(s->key))
		return fail(err, "--cgroup %s: key too long", text);
	memcpy(s->key, text, klen);
	s->key[klen] = '\0';
	if (!jail_cgroup_key_valid(s->key))
		return fail(err,
			    "--cgroup %s: '%s' is not a cgroup file the jail may set "
			    "(a plain name like memory.max; no '/', no '..', not cgroup.procs)",
			    text, s->key);
	s->value = eq + 1;
	if (!*s->value || strlen(s->value) > JAIL_CGROUP_VALUE_MAX || strchr(s->value, '\n'))
		return fail(err, "--cgroup %s: the value must be 1 to %d characters on one line",
			    text, JAIL_CGROUP_VALUE_MAX);
	return 0;
}

static int set_id(struct jail_args *a, const char *v, struct jail_error *err)
{
	if (!jail_id_valid(v))
		return fail(err, "--id %s: must be 1 to %d characters of A-Z, a-z, 0-9 and '-'", v,
			    JAIL_ID_MAX);
	a->id = v;
	return 0;
}

static int set_exec_file(struct jail_args *a, const char *v, struct jail_error *err)
{
	const char *name = jail_file_name(v);

	if (!*name || !strcmp(name, ".") || !strcmp(name, ".."))
		return fail(err, "--exec-file %s: not a file name", v);
	a->exec_file = v;
	return 0;
}

/* Ids are 32-bit; (uid_t)-1 means "unchanged" to setresuid, and root in a chroot can leave it
 * (mknod, mount), so both are refused. */
static int parse_id(const char *flag, const char *v, uint32_t *out, struct jail_error *err)
{
	uint64_t n;

	if (uint_parse(v, 0, UINT32_MAX - 1, &n))
		return fail(err, "%s %s: expected a number from 1 to %u", flag, v, UINT32_MAX - 1);
	if (n == 0)
		return fail(err, "%s 0: azote runs unprivileged in the jail (pick a non-root id)",
			    flag);
	*out = (uint32_t)n;
	return 0;
}

static int set_uid(struct jail_args *a, const char *v, struct jail_error *err)
{
	uint32_t id = 0;
	int rc = parse_id("--uid", v, &id, err);

	if (!rc)
		a->uid = id;
	return rc;
}

static int set_gid(struct jail_args *a, const char *v, struct jail_error *err)
{
	uint32_t id = 0;
	int rc = parse_id("--gid", v, &id, err);

	if (!rc)
		a->gid = id;
	return rc;
}

static int set_chroot_base(struct jail_args *a, const char *v, struct jail_error *err)
{
	if (v[0] != '/')
		return fail(err, "--chroot-base %s: must be an absolute path", v);
	if (strstr(v, "/../") || (strlen(v) >= 3 && !strcmp(v + strlen(v) - 3, "/..")))
		return fail(err, "--chroot-base %s: must not contain '..'", v);
	a->chroot_base = v;
	return 0;
}

static int set_cgroup(struct jail_args *a, const char *v, struct jail_error *err)
{
	struct jail_cgroup_setting s;
	int rc;

	if (a->ncgroups == JAIL_CGROUPS_MAX)
		return fail(err, "--cgroup: at most %d settings", JAIL_CGROUPS_MAX);
	rc = jail_cgroup_setting_parse(v, &s, err);
	if (rc)
		return rc;
	for (unsigned i = 0; i < a->ncgroups; i++)
		if (!strcmp(a->cgroups[i].key, s.key))
			return fail(err, "--cgroup %s: %s is set twice", v, s.key);
	a->cgroups[a->ncgroups++] = s;
	return 0;
}

static int set_netns(struct jail_args *a, const char *v, struct jail_error *err)
{
	if (!*v)
		return fail(err, "--netns: empty path");
	a->netns = v;
	return 0;
}

static int set_daemonize(struct jail_args *a, const char *v, struct jail_error *err)
{
	a->daemonize = true;
	return 0;
}

/* fsize=BYTES or no-file=N, Firecracker's names for RLIMIT_FSIZE and RLIMIT_NOFILE. */
static int set_resource_limit(struct jail_args *a, const char *v, struct jail_error *err)
{
	uint64_t n;

	if (!strncmp(v, "fsize=", 6)) {
		if (uint_parse(v + 6, 0, UINT64_MAX - 1, &n))
			return fail(err, "--resource-limit %s: fsize wants a size in bytes", v);
		a->fsize = n;
		a->has_fsize = true;
		return 0;
	}
	if (!strncmp(v, "no-file=", 8)) {
		if (uint_parse(v + 8, 1, UINT32_MAX, &n))
			return fail(err, "--resource-limit %s: no-file wants a count from 1 to %u",
				    v, UINT32_MAX);
		a->nofile = n;
		return 0;
	}
	return fail(err, "--resource-limit %s: expected fsize=BYTES or no-file=N", v);
}

static const struct jail_flag jail_flags[] = {
    {"id", true, set_id},
    {"exec-file", true, set_exec_file},
    {"uid", true, set_uid},
    {"gid", true, set_gid},
    {"chroot-base", true, set_chroot_base},
    {"cgroup", true, set_cgroup},
    {"netns", true, set_netns},
    {"daemonize", false, set_daemonize},
    {"resource-limit", true, set_resource_limit},
};

static const struct jail_flag *flag_find(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(jail_flags) / sizeof(jail_flags[0]); i++)
		if (strlen(jail_flags[i].name) == len && !strncmp(jail_flags[i].name, name, len))
			return &jail_flags[i];
	return NULL;
}

/* One "--flag value" or "--flag=value" at argv[*i]; advances *i past what it used. */
static int parse_flag(int argc, char **argv, int *i, struct jail_args *a, struct jail_error *err)
{
	const char *arg = argv[*i], *name = arg + 2, *eq = strchr(name, '=');
	size_t len = eq ? (size_t)(eq - name) : strlen(name);
	const struct jail_flag *f = strncmp(arg, "--", 2) ? NULL : flag_find(name, len);
	const char *value = eq ? eq + 1 : NULL;

	if (!f) {
		if (arg[0] == '-')
			return fail(err, "unknown option %s (azote's own arguments go after --)",
				    arg);
		return fail(err, "unexpected argument '%s' (azote's own arguments go after --)",
			    arg);
	}
	if (!f->takes_value && value)
		return fail(err, "--%s takes no value", f->name);
	if (f->takes_value && !value) {
		if (*i + 1 >= argc)
			return fail(err, "--%s needs a value", f->name);
		value = argv[++*i];
	}
	++*i;
	return f->set(a, value, err);
}

static int check_required(const struct jail_args *a, struct jail_error *err)
{
	if (!a->id)
		return fail(err, "--id is required (the jail's name, e.g. --id vm1)");
	if (!a->exec_file)
		return fail(err, "--exec-file is required (the azote binary to jail)");
	if (a->uid == (uid_t)-1 || a->gid == (gid_t)-1)
		return fail(err,
			    "--uid and --gid are required (the unprivileged ids azote runs as)");
	return 0;
}

enum jail_parse_result jail_args_parse(int argc, char **argv, struct jail_args *a,
				       struct jail_error *err)
{
	int i = 1;

	memset(a, 0, sizeof(*a));
	a->chroot_base = JAIL_CHROOT_BASE_DEFAULT;
	a->nofile = JAIL_NOFILE_DEFAULT;
	a->uid = (uid_t)-1; /* "not given": parse_id never yields it */
	a->gid = (gid_t)-1;
	a->exec_argv = &argv[argc];
	while (i < argc) {
		if (!strcmp(argv[i], "--")) {
			a->exec_argv = &argv[i + 1];
			break;
		}
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return JAIL_PARSE_HELP;
		if (parse_flag(argc, argv, &i, a, err))
			return JAIL_PARSE_ERROR;
	}
	return check_required(a, err) ? JAIL_PARSE_ERROR : JAIL_PARSE_OK;
}
