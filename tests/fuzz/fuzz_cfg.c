/* Fuzz harness: the cfg parser (Darknet's parse_network_cfg with the plugin layers of
 * src/layers and their key checks in src/plugin/cfg_keys.c), on one cfg file per input.
 * A cfg that parses is freed again with free_network. See fuzz_common.h. */
#include "darknet.h"
#include "fuzz_common.h"

static void parse(void *path)
{
    network *net = parse_network_cfg((char *)path);
    free_network(net);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_run(parse, (void *)fuzz_write_file(0, data, size));
    return 0;
}
