/* Weights file helper for the shell tests (tests/plugin/test_cfg.sh, tests/e2e/test_e2e.sh).
 *
 *   tool_weights init CFG OUT [SEED]   parse CFG (srand(SEED), default 1) and save its freshly
 *                                      initialised weights to OUT
 *   tool_weights load CFG WEIGHTS      parse CFG and load WEIGHTS: exit 0 when Darknet accepts
 *                                      them (it stops with exit 1 and a message otherwise)
 *   tool_weights resave CFG IN OUT     load IN into a fresh network and save it to OUT
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "darknet.h"

int main(int argc, char **argv)
{
    network *net;
    if (argc >= 4 && strcmp(argv[1], "init") == 0) {
        srand(argc > 4 ? atoi(argv[4]) : 1);
        net = parse_network_cfg(argv[2]);
        save_weights(net, argv[3]);
    } else if (argc == 4 && strcmp(argv[1], "load") == 0) {
        net = parse_network_cfg(argv[2]);
        load_weights(net, argv[3]);
        printf("loaded %s\n", argv[3]);
    } else if (argc == 5 && strcmp(argv[1], "resave") == 0) {
        net = parse_network_cfg(argv[2]);
        load_weights(net, argv[3]);
        save_weights(net, argv[4]);
    } else {
        fprintf(stderr, "usage: %s init CFG OUT [SEED] | load CFG WEIGHTS | resave CFG IN OUT\n", argv[0]);
        return 2;
    }
    free_network(net);
    return 0;
}
