/*
 * test_names.c — the name codec of design §2.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "names.h"
#include "check.h"


static void expect_encode(const char *display, const char *id,
			  const char *want)
{
	struct buf b;
	int rc;

	buf_init(&b, 0);
	rc = names_encode(&b, display, id);
	CHECK_MSG(rc == 0, "encode '%s' failed: %d", display, rc);
	CHECK_MSG(rc == 0 && strcmp(b.data, want) == 0,
	      "encode '%s': got '%s', want '%s'", display, b.data, want);
	buf_release(&b);
}

static void test_encode(void)
{
	expect_encode("Floor3 LaserJet", "id", "Floor3 LaserJet");
	expect_encode("Sales/Marketing", "id", "Sales\xef\xbc\x8fMarketing");
	expect_encode("Caf\xc3\xa9 Drucker", "id", "Caf\xc3\xa9 Drucker");
	expect_encode("tab\there", "id", "tab\xe2\x90\x89here");
	expect_encode("nl\n", "id", "nl\xe2\x90\x8a");
	expect_encode("del\x7f", "id", "del\xe2\x90\xa1");
	expect_encode(".", "id", "\xef\xbc\x8e");
	expect_encode("..", "id", "\xef\xbc\x8e\xef\xbc\x8e");
	expect_encode("...", "id", "...");
	expect_encode(".hidden", "id", ".hidden");
	expect_encode("", "0123456789", "0123456789");
	expect_encode(NULL, "abc", "abc");
}

static void test_long_names(void)
{
	char display[600];
	struct buf b;
	const char *id = "abcdef0123456789";

	/* 300 bytes of 'x': cut, then " ~abcdef01". */
	memset(display, 'x', 300);
	display[300] = '\0';
	buf_init(&b, 0);
	CHECK_MSG(names_encode(&b, display, id) == 0, "long encode failed");
	CHECK_MSG(b.len == UPFS_NAME_MAX, "long name is %zu bytes", b.len);
	CHECK_MSG(strcmp(b.data + b.len - 10, " ~abcdef01") == 0,
	      "long name suffix is '%s'", b.data + b.len - 10);
	buf_release(&b);

	/* 200 two-byte characters: the cut must not split one. */
	for (int i = 0; i < 200; i++)
		memcpy(display + 2 * i, "\xc3\xa9", 2);
	display[400] = '\0';
	buf_init(&b, 0);
	CHECK_MSG(names_encode(&b, display, id) == 0, "utf-8 encode failed");
	CHECK_MSG(b.len <= UPFS_NAME_MAX, "utf-8 name is %zu bytes", b.len);
	CHECK_MSG(((unsigned char)b.data[b.len - 11] & 0xc0) != 0xc0,
	      "cut inside a character");
	buf_release(&b);

	/* Exactly 255 bytes is kept whole. */
	memset(display, 'y', 255);
	display[255] = '\0';
	buf_init(&b, 0);
	CHECK_MSG(names_encode(&b, display, id) == 0 && b.len == 255 &&
	      strchr(b.data, '~') == NULL, "255-byte name changed");
	buf_release(&b);
}

static void test_disambiguate(void)
{
	struct names_entry e[4] = {
		{ strdup("Lab Printer"), "11111111-aaaa" },
		{ strdup("Floor3"), "22222222-bbbb" },
		{ strdup("Lab Printer"), "33333333-cccc" },
		{ strdup("Other"), "44444444-dddd" },
	};

	CHECK_MSG(names_disambiguate(e, 4) == 0, "disambiguate failed");
	CHECK_MSG(strcmp(e[0].name, "Lab Printer ~11111111") == 0, "got '%s'",
	      e[0].name);
	CHECK_MSG(strcmp(e[2].name, "Lab Printer ~33333333") == 0, "got '%s'",
	      e[2].name);
	CHECK_MSG(strcmp(e[1].name, "Floor3") == 0, "unique name changed: '%s'",
	      e[1].name);
	CHECK_MSG(strcmp(e[3].name, "Other") == 0, "unique name changed: '%s'",
	      e[3].name);
	for (int i = 0; i < 4; i++)
		free(e[i].name);

	/* Same 8-character prefix: the whole id tells them apart. */
	struct names_entry f[2] = {
		{ strdup("Twin"), "abcdefgh-1" },
		{ strdup("Twin"), "abcdefgh-2" },
	};
	CHECK_MSG(names_disambiguate(f, 2) == 0, "disambiguate twins failed");
	CHECK_MSG(strcmp(f[0].name, f[1].name) != 0, "twins still clash: '%s'",
	      f[0].name);
	for (int i = 0; i < 2; i++)
		free(f[i].name);
}

static void test_order_independent(void)
{
	struct names_entry a[2] = { { strdup("Same"), "aaaaaaaa1" },
				    { strdup("Same"), "bbbbbbbb2" } };
	struct names_entry b[2] = { { strdup("Same"), "bbbbbbbb2" },
				    { strdup("Same"), "aaaaaaaa1" } };

	names_disambiguate(a, 2);
	names_disambiguate(b, 2);
	CHECK_MSG(strcmp(a[0].name, b[1].name) == 0 &&
	      strcmp(a[1].name, b[0].name) == 0,
	      "names depend on listing order");
	for (int i = 0; i < 2; i++) {
		free(a[i].name);
		free(b[i].name);
	}
}

/* Found by tests/fuzz/fuzz_names.c (corpus names/regress-*). */
static void test_fuzz_regressions(void)
{
	char display[600];
	struct buf b;

	/* An id is the service's text too: no '/' in the suffix. */
	memset(display, 'x', 300);
	display[300] = '\0';
	buf_init(&b, 0);
	CHECK_MSG(names_encode(&b, display, "ab/c\nd/x") == 0 &&
		  b.len <= UPFS_NAME_MAX && strchr(b.data, '/') == NULL &&
		  strchr(b.data, '\n') == NULL,
		  "id suffix not made safe: '%s'", b.data);
	buf_release(&b);

	/* Long twins with long ids: the whole-id round stays in 255 bytes. */
	memset(display, 'y', 400);
	display[400] = '\0';
	struct names_entry t[2] = {
		{ strdup(display), "abcdefgh-0123456789-0123456789-1" },
		{ strdup(display), "abcdefgh-0123456789-0123456789-2" },
	};
	CHECK_MSG(names_disambiguate(t, 2) == 0, "long twins failed");
	for (int i = 0; i < 2; i++) {
		CHECK_MSG(strlen(t[i].name) <= UPFS_NAME_MAX,
			  "long twin %d is %zu bytes", i, strlen(t[i].name));
		CHECK_MSG(strcmp(t[i].name + strlen(t[i].name) - 2, "-1") == 0 ||
			  strcmp(t[i].name + strlen(t[i].name) - 2, "-2") == 0,
			  "long twin %d lost its id: '%s'", i, t[i].name);
	}
	CHECK_MSG(strcmp(t[0].name, t[1].name) != 0, "long twins clash");

	/* A suffixed name that is some other object's own name. */
	struct names_entry c[3] = {
		{ strdup("x"), "abcdefgh1" },
		{ strdup("x"), "abcdefgh2" },
		{ strdup("x ~abcdefgh ~abcdefgh1"), "zzz" },
	};
	CHECK_MSG(names_disambiguate(c, 3) == 0, "chain failed");
	CHECK_MSG(strcmp(c[0].name, c[1].name) != 0 &&
		  strcmp(c[0].name, c[2].name) != 0 &&
		  strcmp(c[1].name, c[2].name) != 0,
		  "chain clashes: '%s' '%s' '%s'", c[0].name, c[1].name,
		  c[2].name);
	/* Ids the codec shows alike: a control character and its picture
	   (an empty display name is the id). */
	struct names_entry p[3] = {
		{ strdup(""), "\xe2\x90\x86\xe2\x90\x81" },
		{ strdup(""), "\x06\x01" },
		{ strdup(""), "0" },
	};
	for (int i = 0; i < 3; i++) {
		struct buf e;

		buf_init(&e, 0);
		CHECK_MSG(names_encode(&e, p[i].name, p[i].id) == 0,
			  "encoding id %d failed", i);
		free(p[i].name);
		p[i].name = buf_detach(&e, NULL);
		buf_release(&e);
	}
	CHECK_MSG(strcmp(p[0].name, p[1].name) == 0,
		  "the codec no longer shows these ids alike: the case is moot");
	CHECK_MSG(names_disambiguate(p, 3) == 0, "pictures failed");
	CHECK_MSG(strcmp(p[0].name, p[1].name) != 0 &&
		  strcmp(p[0].name, p[2].name) != 0 &&
		  strcmp(p[1].name, p[2].name) != 0 && strcmp(p[2].name, "0") == 0,
		  "pictures clash: '%s' '%s' '%s'", p[0].name, p[1].name,
		  p[2].name);
	for (int i = 0; i < 3; i++) {
		CHECK_MSG(strlen(p[i].name) <= UPFS_NAME_MAX &&
			  strchr(p[i].name, '\x06') == NULL,
			  "picture name %d unsafe: '%s'", i, p[i].name);
		free(p[i].name);
	}
	for (int i = 0; i < 3; i++)
		free(c[i].name);
	for (int i = 0; i < 2; i++)
		free(t[i].name);
}

static void expect_copy(const char *name, unsigned n, const char *want)
{
	struct buf b;

	buf_init(&b, 0);
	CHECK_MSG(names_copy_number(&b, name, n) == 0 && strcmp(b.data, want) == 0,
	      "copy %u of '%s': got '%s', want '%s'", n, name, b.data, want);
	CHECK_MSG(names_is_copy_of(want, name), "'%s' not a copy of '%s'",
		  want, name);
	buf_release(&b);
}

static void expect_not_copy(const char *name, const char *base)
{
	CHECK_MSG(!names_is_copy_of(name, base), "'%s' taken for a copy of "
		  "'%s'", name, base);
}

static void test_copy_number(void)
{
	expect_copy("doc.pdf", 1, "doc.pdf");
	expect_copy("doc.pdf", 2, "doc ~2.pdf");
	expect_copy("archive.tar.gz", 3, "archive.tar ~3.gz");
	expect_copy("README", 2, "README ~2");
	expect_copy(".profile", 2, ".profile ~2");
	expect_copy("doc.pdf", 12, "doc ~12.pdf");
	/* Only the forms names_copy_number makes. */
	expect_not_copy("doc ~1.pdf", "doc.pdf");
	expect_not_copy("doc ~02.pdf", "doc.pdf");
	expect_not_copy("doc ~2.pdf.pdf", "doc.pdf");
	expect_not_copy("doc ~2x.pdf", "doc.pdf");
	expect_not_copy("doc ~.pdf", "doc.pdf");
	expect_not_copy("doc ~2.pd", "doc.pdf");
	expect_not_copy("doc ~99999999999999999999.pdf", "doc.pdf");
	expect_not_copy("doc2.pdf", "doc.pdf");
	expect_not_copy("doc ~2.pdf", "do.pdf");
	expect_not_copy("README ~2", "README.txt");
}

/* The name a folder's listing gives one of its objects. */
static void test_in_folder(void)
{
	static const char *const displays[] = { "Lab", "Lab", "Desk", NULL };
	static const char *const ids[] = { "6213805f-aa", "e946bfe8-bb",
					   "12345678-cc", "99999999-dd" };
	struct buf b;

	buf_init(&b, 0);
	CHECK(names_in_folder(displays, ids, 4, 1, &b) == 0 &&
	      strcmp(b.data, "Lab ~e946bfe8") == 0);
	buf_reset(&b);
	CHECK(names_in_folder(displays, ids, 4, 2, &b) == 0 &&
	      strcmp(b.data, "Desk") == 0);
	buf_reset(&b);
	CHECK_MSG(names_in_folder(displays, ids, 4, 3, &b) == 0 &&
		  strcmp(b.data, "99999999-dd") == 0, "got '%s'", b.data);
	CHECK(names_in_folder(displays, ids, 4, 4, &b) == -EINVAL);
	buf_release(&b);
}

int main(void)
{
	test_encode();
	test_long_names();
	test_disambiguate();
	test_order_independent();
	test_fuzz_regressions();
	test_copy_number();
	test_in_folder();
	if (failures) {
		fprintf(stderr, "test_names: %d failure(s)\n", failures);
		return 1;
	}
	return 0;
}
