/*
 * fuzz_config.c — ~/.config/upfs/config as written by a person: the INI
 * reader config_read() (fs/config.c) on the input as a file, then the
 * whole of `upfs /mnt/x` reading it through options_parse() (fs/options.c),
 * which turns each setting of [default] into its -o word.
 *
 * The file is a memfd reached through /proc/self/fd, so nothing touches
 * the disk. Properties (fs.h): config_read() is 0 or a negative errno
 * with "FILE:LINE: reason"; every key it hands on is a non-empty option
 * name; options_parse() either refuses (-EINVAL) or yields options with
 * every default filled in and the ttls in range.
 */
#include <ctype.h>
#include <errno.h>
#include <fuse_lowlevel.h>
#include <fuse_opt.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fs.h"
#include "fuzz.h"

static int fd = -1;
static char path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fd = memfd_create("upfs-config", MFD_CLOEXEC);
	FUZZ_CHECK(fd >= 0);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	FUZZ_CHECK(setenv("UPFS_CONFIG", path, 1) == 0);
	FUZZ_CHECK(setenv("HOME", "/nonexistent", 1) == 0);
	unsetenv("XDG_CONFIG_HOME");
	unsetenv("XDG_CACHE_HOME");
	(void)argc;
	(void)argv;
	return 0;
}

static int take_setting(void *arg, const char *key, const char *value,
			char *why, size_t why_len)
{
	unsigned *n = arg;

	FUZZ_CHECK(key[0] != '\0');
	for (const unsigned char *p = (const unsigned char *)key; *p; p++)
		FUZZ_CHECK(isalnum(*p) || *p == '_' || *p == '-');
	FUZZ_CHECK(value == NULL || strchr(value, '\n') == NULL);
	/* A callback's refusal must come back with its reason. */
	if (strcmp(key, "refuse") == 0) {
		snprintf(why, why_len, "refused '%s'", key);
		return -EINVAL;
	}
	(*n)++;
	return 0;
}

static void read_config(void)
{
	char err[1024];
	unsigned n = 0;
	bool found = true;
	int rc;

	err[0] = '\0';
	rc = config_read(path, "default", take_setting, &n, &found, err,
			 sizeof(err));
	FUZZ_CHECK(rc <= 0);
	if (rc)
		FUZZ_CHECK(strncmp(err, path, strlen(path)) == 0);
	FUZZ_CHECK(fuzz_terminated(err, sizeof(err)));
	FUZZ_CHECK(found || n == 0);
}

static void parse_options(void)
{
	char prog[] = "upfs", mnt[] = "/mnt/fuzz";
	char *argv[] = { prog, mnt, NULL };
	struct fuse_args args;
	struct upfs_options opts;
	int rc = options_parse(&opts, &args, 2, argv);

	/* Any errno: besides bad settings (-EINVAL), a profile may name a
	   client_secret_file, whose opening can fail every way a file's
	   can, and a secret in a file others may read is -EACCES. */
	FUZZ_CHECK(rc <= 0 && rc > -4096);
	if (rc == 0) {
		FUZZ_CHECK(opts.mountpoint &&
			   strcmp(opts.mountpoint, mnt) == 0);
		FUZZ_CHECK(opts.endpoint && opts.authority && opts.client_id &&
			   opts.cache_dir && opts.profile);
		FUZZ_CHECK(opts.dir_ttl >= 0 && opts.dir_ttl <= 86400 * 365);
		FUZZ_CHECK(opts.status_ttl >= 0 &&
			   opts.status_ttl <= 86400 * 365);
	}
	options_release(&opts);
	fuse_opt_free_args(&args);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FUZZ_CHECK(ftruncate(fd, 0) == 0);
	FUZZ_CHECK(pwrite(fd, data, size, 0) == (ssize_t)size);
	read_config();
	parse_options();
	return 0;
}
