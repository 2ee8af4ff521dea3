/* `darknet classifier regroup FROM.cfg FROM.weights TO.cfg TO.weights [-force]` (a row of
 * plugin_commands in layer_registry.c): weights of the separate-branch form of a network
 * written for its grouped form, or back (scripts/make-cfgs' X.cfg and X-grouped.cfg; the
 * map is grouped_experts.h). Returns the process's exit status. */
#ifndef GROUPED_COMMAND_H
#define GROUPED_COMMAND_H

int grouped_command(int argc, char **argv);

#define GROUPED_USAGE "classifier regroup FROM.cfg FROM.weights TO.cfg TO.weights [-force]"

#endif
