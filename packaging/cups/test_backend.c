/*
 * test_backend.c — the pure pieces of the CUPS backend: the errno -> exit
 * code map, device URIs, the mount table, and CUPS options -> upfs options.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../tests/unit/check.h"
#include "backend.h"

static void test_status_of_errno(void)
{
	CHECK(cups_status_of_errno(0) == UPFS_CUPS_OK);
	CHECK(cups_status_of_errno(EACCES) == UPFS_CUPS_AUTH_REQUIRED);
	CHECK(cups_status_of_errno(ENOENT) == UPFS_CUPS_AUTH_REQUIRED);
	CHECK(cups_status_of_errno(EINVAL) == UPFS_CUPS_FAILED);
	CHECK(cups_status_of_errno(EFBIG) == UPFS_CUPS_FAILED);
	CHECK(cups_status_of_errno(EDQUOT) == UPFS_CUPS_HOLD);
	CHECK(cups_status_of_errno(ENOSPC) == UPFS_CUPS_RETRY);
	CHECK(cups_status_of_errno(ENOTCONN) == UPFS_CUPS_RETRY);
	CHECK(cups_status_of_errno(EIO) == UPFS_CUPS_RETRY);
	CHECK(cups_status_of_errno(ETIMEDOUT) == UPFS_CUPS_RETRY);
	CHECK(cups_status_of_errno(EAGAIN) == UPFS_CUPS_RETRY);
	CHECK(cups_status_of_errno(EXDEV) == UPFS_CUPS_FAILED);
}

static void test_uri(void)
{
	char uri[512], mnt[256], share[128];

	CHECK(cups_uri_format("/home/al/print/office", "/home/al", "Lab A", uri,
			      sizeof(uri)) == 0);
	CHECK_MSG(strcmp(uri, "upfs:/~/print/office/Lab%20A") == 0, "%s", uri);
	CHECK(cups_uri_parse(uri, "/home/bo", mnt, sizeof(mnt), share,
			     sizeof(share)) == 0);
	CHECK_MSG(strcmp(mnt, "/home/bo/print/office") == 0, "%s", mnt);
	CHECK(strcmp(share, "Lab A") == 0);

	CHECK(cups_uri_format("/srv/~print", "/home/al", "Caf\xc3\xa9 & Co",
			      uri, sizeof(uri)) == 0);
	CHECK_MSG(strcmp(uri, "upfs:/srv/%7Eprint/Caf%C3%A9%20%26%20Co") == 0,
		  "%s", uri);
	CHECK(cups_uri_parse(uri, "/home/al", mnt, sizeof(mnt), share,
			     sizeof(share)) == 0);
	CHECK(strcmp(mnt, "/srv/~print") == 0);
	CHECK(strcmp(share, "Caf\xc3\xa9 & Co") == 0);

	/* A home folder that is only a prefix of the path is no home. */
	CHECK(cups_uri_format("/home/alice/p", "/home/al", "S", uri,
			      sizeof(uri)) == 0);
	CHECK(strcmp(uri, "upfs:/home/alice/p/S") == 0);

	CHECK(cups_uri_parse("upfs:///mnt/print/Floor3", NULL, mnt,
			     sizeof(mnt), share, sizeof(share)) == 0);
	CHECK(strcmp(mnt, "/mnt/print") == 0 && strcmp(share, "Floor3") == 0);
	CHECK(cups_uri_parse("upfs:/~/p/S", "", mnt, sizeof(mnt), share,
			     sizeof(share)) == -ENOENT);
	CHECK(cups_uri_parse("ipp://host/x", NULL, mnt, sizeof(mnt), share,
			     sizeof(share)) == -EINVAL);
	CHECK(cups_uri_parse("upfs:/Floor3", NULL, mnt, sizeof(mnt), share,
			     sizeof(share)) == -EINVAL);
	CHECK(cups_uri_parse("upfs:/mnt/", NULL, mnt, sizeof(mnt), share,
			     sizeof(share)) == -EINVAL);
	CHECK(cups_uri_parse("upfs:/mnt/a%2Fb", NULL, mnt, sizeof(mnt), share,
			     sizeof(share)) == -EINVAL);
	CHECK(cups_uri_parse("upfs:/mnt/a%4", NULL, mnt, sizeof(mnt), share,
			     sizeof(share)) == -EINVAL);
	CHECK(cups_uri_parse("upfs://host/mnt/S", NULL, mnt, sizeof(mnt),
			     share, sizeof(share)) == -EINVAL);
}

static void test_mounts(void)
{
	char path[] = "/tmp/upfs-test-mountsXXXXXX";
	const char *table =
		"proc /proc proc rw,nosuid 0 0\n"
		"upfs /home/al/print/office fuse.upfs rw,nosuid,user_id=1000,"
		"group_id=1000 0 0\n"
		"sshfs#x /mnt/x fuse.sshfs rw,user_id=1000,group_id=1000 0 0\n"
		"upfs /srv/print\\040office fuse.upfs rw,user_id=0,group_id=0,"
		"default_permissions,allow_other 0 0\n"
		"upfs /bad fuse.upfs rw 0 0\n";
	struct cups_mounts m;
	const struct cups_mount *one;
	int fd = mkstemp(path);

	CHECK(fd >= 0 && write(fd, table, strlen(table)) ==
				 (ssize_t)strlen(table));
	close(fd);
	CHECK(cups_mounts_read(path, &m) == 0);
	CHECK_MSG(m.n == 2, "%zu mounts", m.n);
	one = cups_mounts_at(&m, "/home/al/print/office");
	CHECK(one && one->uid == 1000 && one->gid == 1000 &&
	      !one->allow_other);
	one = cups_mounts_at(&m, "/srv/print office");
	CHECK(one && one->uid == 0 && one->allow_other);
	CHECK(cups_mounts_at(&m, "/mnt/x") == NULL);
	CHECK(cups_mounts_at(&m, "/bad") == NULL);
	cups_mounts_release(&m);
	unlink(path);
	CHECK(cups_mounts_read("/nonexistent/mounts", &m) == -ENOENT);
}

static const char *text_of(const char *options, const char *copies,
			   const json_t *caps, char *out, size_t len)
{
	struct cups_job_options o;

	cups_job_options_map(options, copies, &o);
	cups_job_options_fit(&o, caps);
	CHECK(cups_job_options_text(&o, out, len) == 0);
	return out;
}

static void test_options(void)
{
	json_t *caps = json_loads(
		"{\"duplexModes\":[\"oneSided\",\"flipOnLongEdge\"],"
		"\"colorModes\":[\"blackAndWhite\",\"grayscale\"],"
		"\"mediaSizes\":[\"A4\",\"North America Letter\"],"
		"\"pagesPerSheet\":[1,2,4],"
		"\"copiesPerJob\":{\"start\":1,\"end\":99}}", 0, NULL);
	char text[1024];

	/* What cupsd passed in a real run, copies 2. */
	text_of("finishings=3 media=A4 number-up=2 page-ranges=1-2 "
		"print-color-mode=color sides=two-sided-long-edge "
		"job-uuid=urn:uuid:5257 date-time-at-creation= "
		"document-name-supplied=doc.pdf Duplex=DuplexNoTumble "
		"PageSize=A4", "2", NULL, text, sizeof(text));
	CHECK_MSG(strcmp(text, "copies=2\nduplex=flipOnLongEdge\nmedia=A4\n"
			       "color=color\npages=1-2\npagesPerSheet=2\n") == 0,
		  "%s", text);
	/* The printer lacks color, short-edge and 3-up: left out. */
	text_of("print-color-mode=color sides=two-sided-short-edge "
		"media=iso_a4_210x297mm number-up=3", "1", caps, text,
		sizeof(text));
	CHECK_MSG(strcmp(text, "media=A4\n") == 0, "%s", text);
	text_of("number-up=4 copies=7", "120", caps, text, sizeof(text));
	CHECK_MSG(strcmp(text, "pagesPerSheet=4\n") == 0, "%s", text);
	/* PPD names when the IPP ones are missing; quoting; booleans. */
	text_of("PageSize=Letter.Fullbleed Duplex=DuplexTumble "
		"ColorModel=Gray orientation-requested=4 print-quality=5 "
		"collate noborderless fit-to-page "
		"print-scaling=auto-fit printer-resolution=600dpi "
		"'job-name=a b' media-col={media-size={x-dimension=1}}",
		NULL, NULL, text, sizeof(text));
	CHECK_MSG(strcmp(text, "duplex=flipOnShortEdge\n"
			       "media=North America Letter\n"
			       "color=grayscale\norientation=landscape\n"
			       "quality=high\ncollate=true\n"
			       "fitPdfToPage=true\nscaling=shrinkToFit\n"
			       "dpi=600\n") == 0,
		  "%s", text);
	/* media lists: the size wherever it is; values upfs cannot parse
	   are dropped. */
	text_of("media=tray-1,na_legal_8.5x14in page-ranges=3-1 copies=5",
		"x", NULL, text, sizeof(text));
	CHECK_MSG(strcmp(text, "media=North America Legal\n") == 0, "%s",
		  text);
	text_of("landscape", "1", NULL, text, sizeof(text));
	CHECK_MSG(strcmp(text, "orientation=landscape\n") == 0, "%s", text);
	text_of("", "1", NULL, text, sizeof(text));
	CHECK(strcmp(text, "") == 0);
	text_of(NULL, NULL, NULL, text, sizeof(text));
	CHECK(strcmp(text, "") == 0);
	json_decref(caps);
}

int main(void)
{
	test_status_of_errno();
	test_uri();
	test_mounts();
	test_options();
	if (failures)
		fprintf(stderr, "%d check(s) failed\n", failures);
	return failures ? 1 : 0;
}
