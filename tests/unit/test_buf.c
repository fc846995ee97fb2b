/*
 * test_buf.c — the bounded growable buffer: growth, the cap (-EFBIG with
 * the buffer unchanged), printf, reset, truncate, detach, and
 * graph_escape_segment
 * which writes into one.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "graph.h"
#include "check.h"


static void test_growth(void)
{
	struct buf b;
	size_t i;

	buf_init(&b, 0);
	CHECK(b.data == NULL && b.len == 0 && b.cap == UPFS_BUF_DEFAULT_CAP);
	for (i = 0; i < 10000; i++)
		CHECK(buf_append(&b, "abc", 3) == 0);
	CHECK(b.len == 30000);
	CHECK(b.alloc > b.len);
	CHECK(b.data[b.len] == '\0');
	CHECK(memcmp(b.data + 29997, "abc", 3) == 0);
	/* binary data with NULs is kept */
	buf_reset(&b);
	CHECK(b.len == 0 && b.data && b.data[0] == '\0');
	CHECK(buf_append(&b, "a\0b", 3) == 0 && b.len == 3 && b.data[2] == 'b');
	CHECK(buf_append(&b, "", 0) == 0 && b.len == 3);
	buf_release(&b);
	CHECK(b.data == NULL && b.len == 0 && b.alloc == 0);
	CHECK(b.cap == UPFS_BUF_DEFAULT_CAP);
}

static void test_truncate(void)
{
	struct buf b;

	buf_init(&b, 0);
	buf_truncate(&b, 0);	/* nothing allocated yet */
	CHECK(b.data == NULL && b.len == 0);
	CHECK(buf_append_str(&b, "header,") == 0);
	CHECK(buf_append_str(&b, "half a row") == 0);
	buf_truncate(&b, 7);
	CHECK(b.len == 7 && strcmp(b.data, "header,") == 0);
	/* Past the end: nothing to take back, nothing grows. */
	buf_truncate(&b, 50);
	CHECK(b.len == 7 && strcmp(b.data, "header,") == 0);
	CHECK(buf_append_str(&b, "row") == 0 &&
	      strcmp(b.data, "header,row") == 0);
	buf_release(&b);
}

static void test_cap(void)
{
	struct buf b;
	char *before;

	buf_init(&b, 10);
	CHECK(buf_append_str(&b, "0123456") == 0);
	before = strdup(b.data);
	/* 7 + 4 > 10: refused, nothing changed */
	CHECK(buf_append_str(&b, "7890") == -EFBIG);
	CHECK(b.len == 7 && strcmp(b.data, before) == 0);
	CHECK(buf_printf(&b, "%s", "7890") == -EFBIG);
	CHECK(b.len == 7 && strcmp(b.data, before) == 0);
	/* exactly to the cap is fine, one more byte is not */
	CHECK(buf_append_str(&b, "789") == 0 && b.len == 10);
	CHECK(strcmp(b.data, "0123456789") == 0);
	CHECK(b.alloc <= 11);
	CHECK(buf_append(&b, "x", 1) == -EFBIG && b.len == 10);
	CHECK(buf_append(&b, "", 0) == 0);
	/* a huge length must not overflow the size check */
	CHECK(buf_append(&b, "x", (size_t)-1) == -EFBIG && b.len == 10);
	free(before);
	buf_release(&b);
	CHECK(b.cap == 10);
}

static void test_printf(void)
{
	struct buf b;
	char big[300];

	buf_init(&b, 0);
	CHECK(buf_printf(&b, "%s/%d", "printers", 42) == 0);
	CHECK(buf_printf(&b, "-%05.1f", 2.5) == 0);
	CHECK(strcmp(b.data, "printers/42-002.5") == 0);
	CHECK(b.len == strlen("printers/42-002.5"));
	/* an empty result still leaves a string */
	buf_release(&b);
	CHECK(buf_printf(&b, "%s", "") == 0 && b.data && b.data[0] == '\0');
	/* longer than any first allocation */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	CHECK(buf_printf(&b, "[%s]", big) == 0 && b.len == sizeof(big) + 1);
	CHECK(b.data[0] == '[' && b.data[b.len - 1] == ']');
	buf_release(&b);
}

static void test_detach(void)
{
	struct buf b;
	size_t len = 99;
	char *p;

	buf_init(&b, 0);
	p = buf_detach(&b, &len);
	CHECK(p && p[0] == '\0' && len == 0);
	free(p);

	CHECK(buf_append_str(&b, "hello") == 0);
	p = buf_detach(&b, &len);
	CHECK(p && strcmp(p, "hello") == 0 && len == 5);
	CHECK(b.data == NULL && b.len == 0 && b.alloc == 0);
	free(p);
	p = buf_detach(&b, NULL);
	CHECK(p && p[0] == '\0');
	free(p);
	/* the buffer is usable again */
	CHECK(buf_append_str(&b, "again") == 0 && strcmp(b.data, "again") == 0);
	buf_release(&b);
}

static void test_escape(void)
{
	struct buf b;

	buf_init(&b, 0);
	CHECK(graph_escape_segment(&b, "AZaz09-._~") == 0);
	CHECK(strcmp(b.data, "AZaz09-._~") == 0);
	buf_reset(&b);
	CHECK(graph_escape_segment(&b, "a b/c?d#e%f'\xc3\xa9") == 0);
	CHECK(strcmp(b.data, "a%20b%2Fc%3Fd%23e%25f%27%C3%A9") == 0);
	/* Dot-segments would climb the path (/users/.. is the root), and
	   servers decode %2E: refused, the buffer as it was. */
	buf_reset(&b);
	CHECK(graph_escape_segment(&b, "..") == -EINVAL && b.len == 0);
	CHECK(graph_escape_segment(&b, ".") == -EINVAL && b.len == 0);
	buf_reset(&b);
	CHECK(graph_escape_segment(&b, "a..b") == 0);
	CHECK(strcmp(b.data, "a..b") == 0);
	buf_release(&b);
	/* too long for the cap: the buffer is as it was */
	buf_init(&b, 8);
	CHECK(buf_append_str(&b, "ab") == 0);
	CHECK(graph_escape_segment(&b, "c d e") == -EFBIG);
	CHECK(strcmp(b.data, "ab") == 0 && b.len == 2);
	buf_release(&b);
}

int main(void)
{
	test_growth();
	test_truncate();
	test_cap();
	test_printf();
	test_detach();
	test_escape();
	if (failures) {
		fprintf(stderr, "test_buf: %d check(s) failed\n", failures);
		return 1;
	}
	return 0;
}
