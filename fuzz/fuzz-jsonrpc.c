/*
 * Fuzz target: the JSON-RPC framing and request checks, as the daemon and
 * the client apply them to bytes from the other side.
 */
#include "autoconf.h"

#include <stdint.h>
#include <stdlib.h>

#include "common/jsonrpc.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Check one parsed message: a request or a batch of them. */
static void
fuzz_message(json_t *msg)
{
	struct jsonrpc_request	 req;
	json_t			*e, *id, *reply;
	size_t			 i, len;
	char			*cause = NULL, *line;

	if (json_is_array(msg)) {
		json_array_foreach(msg, i, e)
			fuzz_message(e);
		return;
	}
	if (jsonrpc_check_request(msg, &req, &cause) != 0) {
		id = jsonrpc_request_id(msg);
		reply = jsonrpc_error(id, JSONRPC_INVALID_REQUEST, cause);
		line = jsonrpc_encode(reply, &len);
		free(line);
		json_decref(reply);
		json_decref(id);
	}
	free(cause);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jsonrpc_framer	*f;
	const char		*line;
	size_t			 len;
	json_t			*msg;
	char			*cause = NULL;

	/* A small limit so the fuzzer reaches the too-long path too. */
	f = jsonrpc_framer_new(4096);
	jsonrpc_framer_feed(f, data, size / 2);
	jsonrpc_framer_feed(f, data + size / 2, size - size / 2);
	while (jsonrpc_framer_next(f, &line, &len) == JSONRPC_FRAME_LINE) {
		if ((msg = jsonrpc_parse(line, len, &cause)) == NULL) {
			free(cause);
			cause = NULL;
			continue;
		}
		fuzz_message(msg);
		json_decref(msg);
	}
	jsonrpc_framer_free(f);
	return 0;
}
