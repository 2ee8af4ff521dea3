/* The classifier subcommands of the OOD evaluation (rows of plugin_commands in
 * layer_registry.c); each returns the process's exit status.
 *
 *   darknet classifier ood DATA CFG WEIGHTS [flags]        ood_command.c
 *       ID accuracy (all, many/medium/few-shot), OOD metrics per set and averaged for the
 *       scores msp, energy, maxlogit and odin, CSVs under -out, and WEIGHTS.ood.
 *   darknet classifier predict DATA CFG [WEIGHTS [IMAGE]] [flags]   ood_predict.c
 *   darknet classifier demo DATA CFG [WEIGHTS [VIDEO]] [flags]      ood_predict.c
 *       Darknet's predict and demo plus the OOD score, and "unknown" below WEIGHTS.ood's
 *       threshold; -out DIR writes annotated PNGs (headless).
 */
#ifndef OOD_COMMANDS_H
#define OOD_COMMANDS_H

int ood_command_ood(int argc, char **argv);
int ood_command_predict(int argc, char **argv);
int ood_command_demo(int argc, char **argv);

#define OOD_USAGE_OOD \
    "classifier ood DATA CFG WEIGHTS [-ood NAME=LIST]... [-out DIR] [-batch N] [-odin_t T] " \
    "[-odin_eps E] [-noodin] [-score msp|energy|maxlogit|odin] [-tpr P] [-counts FILE] [-limit N]"
#define OOD_USAGE_PREDICT \
    "classifier predict DATA CFG [WEIGHTS [IMAGE]] [-t TOP] [-list LIST] [-out DIR] [-score S]"
#define OOD_USAGE_DEMO \
    "classifier demo DATA CFG [WEIGHTS [VIDEO]] [-c CAMERA] [-out DIR] [-headless] [-frames N] [-score S]"

#endif
