/* Fuzz target: configuration parsing and validation. */
#include "autoconf.h"

#include <stdint.h>
#include <stdlib.h>

#include "daemon/config.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config	*cf;
	char		*cause = NULL;
	json_t		*d;

	cf = config_parse((const char *)data, size, "fuzz.json", &cause);
	if (cf != NULL) {
		d = config_describe(cf);
		json_decref(d);
	}
	config_free(cf);
	free(cause);
	return 0;
}
