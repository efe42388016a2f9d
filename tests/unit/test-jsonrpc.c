/* Unit tests for common/jsonrpc.c: messages, request checks, framing. */
#include "autoconf.h"

#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "common/jsonrpc.h"
#include "tap.h"

/* Check a request text; return the code (0 when valid). */
static int
check(const char *text, struct jsonrpc_request *req, json_t **keep)
{
	json_t	*msg;
	char	*cause = NULL;
	int	 code;

	if ((msg = jsonrpc_parse(text, strlen(text), &cause)) == NULL) {
		free(cause);
		return JSONRPC_PARSE_ERROR;
	}
	code = jsonrpc_check_request(msg, req, &cause);
	if (code != 0 && (cause == NULL || *cause == '\0'))
		code = 1;	/* every refusal must explain itself */
	free(cause);
	if (keep != NULL)
		*keep = msg;
	else
		json_decref(msg);
	return code;
}

static void
test_requests(void)
{
	static const struct {
		const char	*text;
		int		 code;
	} cases[] = {
		{ "{\"jsonrpc\":\"2.0\",\"method\":\"status\",\"id\":1}", 0 },
		{ "{\"jsonrpc\":\"2.0\",\"method\":\"status\"}", 0 },
		{ "{\"jsonrpc\":\"2.0\",\"method\":\"s\",\"id\":\"x\"}", 0 },
		{ "{\"jsonrpc\":\"2.0\",\"method\":\"s\",\"id\":null}", 0 },
		{ "{\"jsonrpc\":\"2.0\",\"method\":\"s\",\"params\":{}}", 0 },
		{ "{\"jsonrpc\":\"2.0\",\"method\":\"s\",\"params\":[1]}", 0 },
		{ "{\"jsonrpc\":\"2.0\",\"method\":\"s\",\"params\":\"x\"}",
		    JSONRPC_INVALID_PARAMS },
		{ "{\"jsonrpc\":\"2.0\",\"method\":\"s\",\"params\":3}",
		    JSONRPC_INVALID_PARAMS },
		{ "{\"jsonrpc\":\"1.0\",\"method\":\"s\",\"id\":1}",
		    JSONRPC_INVALID_REQUEST },
		{ "{\"jsonrpc\":2.0,\"method\":\"s\",\"id\":1}",
		    JSONRPC_INVALID_REQUEST },
		{ "{\"method\":\"s\",\"id\":1}", JSONRPC_INVALID_REQUEST },
		{ "{\"jsonrpc\":\"2.0\",\"id\":1}", JSONRPC_INVALID_REQUEST },
		{ "{\"jsonrpc\":\"2.0\",\"method\":42,\"id\":1}",
		    JSONRPC_INVALID_REQUEST },
		{ "{\"jsonrpc\":\"2.0\",\"method\":\"s\",\"id\":{}}",
		    JSONRPC_INVALID_REQUEST },
		{ "{\"jsonrpc\":\"2.0\",\"method\":\"s\",\"id\":[1]}",
		    JSONRPC_INVALID_REQUEST },
		{ "{\"jsonrpc\":\"2.0\",\"method\":\"s\",\"id\":true}",
		    JSONRPC_INVALID_REQUEST },
		{ "5", JSONRPC_INVALID_REQUEST },
		{ "\"status\"", JSONRPC_INVALID_REQUEST },
		{ "{\"jsonrpc\":\"2.0\",\"method\":\"s\"", JSONRPC_PARSE_ERROR },
		{ "\x01\xff garbage", JSONRPC_PARSE_ERROR },
		{ "{\"jsonrpc\":\"2.0\",\"method\":\"\xc3\x28\"}",
		    JSONRPC_PARSE_ERROR },
		{ "{\"id\":1,\"jsonrpc\":\"2.0\",\"method\":\"s\",\"id\":2}",
		    JSONRPC_PARSE_ERROR },
		{ "", JSONRPC_PARSE_ERROR },
	};
	struct jsonrpc_request	 req;
	size_t			 i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
		ok(check(cases[i].text, &req, NULL) == cases[i].code,
		    "request %zu gets code %d: %.50s", i, cases[i].code,
		    cases[i].text);
}

static void
test_request_fields(void)
{
	struct jsonrpc_request	 req;
	json_t			*msg, *id;

	ok(check("{\"jsonrpc\":\"2.0\",\"method\":\"ls\",\"params\":"
	    "{\"a\":1},\"id\":7}", &req, &msg) == 0, "valid request");
	ok(strcmp(req.method, "ls") == 0, "method extracted");
	ok(json_integer_value(req.id) == 7, "id extracted");
	ok(json_is_object(req.params), "params extracted");
	json_decref(msg);

	ok(check("{\"jsonrpc\":\"2.0\",\"method\":\"ls\"}", &req, &msg) == 0 &&
	    req.id == NULL, "a notification has no id");
	json_decref(msg);

	/* A request refused for its version still echoes a valid id. */
	msg = json_loads("{\"jsonrpc\":\"1.0\",\"id\":\"abc\"}", 0, NULL);
	id = jsonrpc_request_id(msg);
	ok(json_is_string(id) && strcmp(json_string_value(id), "abc") == 0,
	    "invalid request keeps a usable id");
	json_decref(id);
	json_decref(msg);
	msg = json_loads("{\"jsonrpc\":\"2.0\",\"id\":{}}", 0, NULL);
	id = jsonrpc_request_id(msg);
	ok(json_is_null(id), "an unusable id becomes null");
	json_decref(id);
	json_decref(msg);
}

static void
test_encode(void)
{
	json_t	*msg, *id;
	char	*line;
	size_t	 len;

	id = json_integer(3);
	msg = jsonrpc_result(id, json_string("a\nb\r\nc"));
	json_decref(id);
	line = jsonrpc_encode(msg, &len);
	if (!ok(line != NULL && len == strlen(line), "encoded length"))
		return;
	ok(line[len - 1] == '\n' && memchr(line, '\n', len - 1) == NULL,
	    "exactly one newline, at the end: %s", line);
	ok(strstr(line, "\"result\":\"a\\nb\\r\\nc\"") != NULL &&
	    strstr(line, "\"id\":3") != NULL && strstr(line,
	    "\"jsonrpc\":\"2.0\"") != NULL, "result message fields");
	free(line);
	json_decref(msg);

	msg = jsonrpc_error(NULL, JSONRPC_METHOD_NOT_FOUND, "no such method");
	line = jsonrpc_encode(msg, &len);
	ok(strstr(line, "\"code\":-32601") != NULL &&
	    strstr(line, "\"message\":\"no such method\"") != NULL &&
	    strstr(line, "\"id\":null") != NULL, "error message: %s", line);
	free(line);
	json_decref(msg);

	msg = jsonrpc_request_new("status", NULL, 42);
	line = jsonrpc_encode(msg, &len);
	ok(strstr(line, "\"method\":\"status\"") != NULL &&
	    strstr(line, "\"id\":42") != NULL &&
	    strstr(line, "params") == NULL, "request without params");
	free(line);
	json_decref(msg);
}

static void
test_exit_status(void)
{
	ok(jsonrpc_exit_status(JSONRPC_INVALID_PARAMS) == EX_USAGE, "64");
	ok(jsonrpc_exit_status(JSONRPC_ERR_DATA) == EX_DATAERR, "65");
	ok(jsonrpc_exit_status(JSONRPC_ERR_NOT_FOUND) == EX_DATAERR, "65");
	ok(jsonrpc_exit_status(JSONRPC_ERR_TEMPFAIL) == EX_TEMPFAIL, "75");
	ok(jsonrpc_exit_status(JSONRPC_ERR_UNAVAILABLE) == EX_UNAVAILABLE,
	    "69");
	ok(jsonrpc_exit_status(JSONRPC_ERR_FAILED) == 1, "1");
}

static void
test_framer(void)
{
	struct jsonrpc_framer	*f;
	const char		*line;
	size_t			 len, i;
	char			 big[64];
	const char		*split = "{\"a\":1}\r\n{\"b\":2}\n\n{\"c\"";

	f = jsonrpc_framer_new(16);
	/* Byte by byte: lines come out whole, whatever the split. */
	for (i = 0; i < strlen(split); i++)
		jsonrpc_framer_feed(f, split + i, 1);
	ok(jsonrpc_framer_next(f, &line, &len) == JSONRPC_FRAME_LINE &&
	    len == 7 && memcmp(line, "{\"a\":1}", 7) == 0,
	    "first line, CR stripped");
	ok(jsonrpc_framer_next(f, &line, &len) == JSONRPC_FRAME_LINE &&
	    len == 7 && memcmp(line, "{\"b\":2}", 7) == 0, "second line");
	ok(jsonrpc_framer_next(f, &line, &len) == JSONRPC_FRAME_LINE &&
	    len == 0, "empty line");
	ok(jsonrpc_framer_next(f, &line, &len) == JSONRPC_FRAME_MORE,
	    "partial line waits");
	jsonrpc_framer_feed(f, ":3}\n", 4);
	ok(jsonrpc_framer_next(f, &line, &len) == JSONRPC_FRAME_LINE &&
	    len == 7 && memcmp(line, "{\"c\":3}", 7) == 0,
	    "partial line completed");

	/* A line exactly at the limit passes; one byte more does not. */
	memset(big, 'x', sizeof big);
	big[16] = '\n';
	jsonrpc_framer_feed(f, big, 17);
	ok(jsonrpc_framer_next(f, &line, &len) == JSONRPC_FRAME_LINE &&
	    len == 16, "line at the limit");
	jsonrpc_framer_feed(f, big, 16);
	ok(jsonrpc_framer_next(f, &line, &len) == JSONRPC_FRAME_MORE,
	    "unfinished line at the limit waits");
	jsonrpc_framer_feed(f, "y", 1);
	ok(jsonrpc_framer_next(f, &line, &len) == JSONRPC_FRAME_TOOLONG,
	    "line over the limit refused");
	ok(jsonrpc_framer_feed(f, "\n", 1) == JSONRPC_FRAME_TOOLONG,
	    "a refused framer stays refused");
	jsonrpc_framer_free(f);

	f = jsonrpc_framer_new(16);
	big[16] = 'x';
	big[17] = '\n';
	jsonrpc_framer_feed(f, big, 18);
	ok(jsonrpc_framer_next(f, &line, &len) == JSONRPC_FRAME_TOOLONG,
	    "a complete line over the limit is refused too");
	jsonrpc_framer_free(f);
	jsonrpc_framer_free(NULL);
}

int
main(void)
{
	test_requests();
	test_request_fields();
	test_encode();
	test_exit_status();
	test_framer();
	return tap_done();
}
