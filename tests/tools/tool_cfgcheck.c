/* tool_cfgcheck CFG: parses CFG with Darknet's (patched) parser and exits 0, printing the
 * number of layers and the network input size; any cfg error stops Darknet with exit 1 and
 * its message. Used by tests/plugin/test_cfg.sh. */
#include <stdio.h>

#include "darknet.h"

int main(int argc, char **argv)
{
    network *net;
    if (argc != 2) {
        fprintf(stderr, "usage: %s CFG\n", argv[0]);
        return 2;
    }
    net = parse_network_cfg(argv[1]);
    printf("ok: %s: %d layers, %d inputs, %d outputs\n", argv[1], net->n, net->inputs, net->outputs);
    free_network(net);
    return 0;
}
