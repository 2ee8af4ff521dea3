/* The classifier subcommands of the OOD evaluation (rows of plugin_commands in
 * layer_registry.c); each returns the process's exit status.
 *
 *   darknet classifier ood DATA CFG WEIGHTS [flags]        ood_command.c
 *       ID accuracy (all, many/medium/few-shot), OOD metrics per set and averaged for the
 *       scores msp, energy, maxlogit and odin (and with -posthoc gen, react, knn,
 *       mahalanobis), CSVs and threshold.ood under -out, and with -deploy WEIGHTS.ood.
 *   darknet classifier predict DATA CFG [WEIGHTS [IMAGE]] [flags]   ood_predict.c
 *   darknet classifier demo DATA CFG [WEIGHTS [VIDEO]] [flags]      ood_predict.c
 *       Darknet's predict and demo plus the OOD score, and "unknown" below the threshold of
 *       WEIGHTS.ood (or -threshold FILE); -out DIR writes annotated PNGs (headless).
 */
#ifndef OOD_COMMANDS_H
#define OOD_COMMANDS_H

int ood_command_ood(int argc, char **argv);
int ood_command_predict(int argc, char **argv);
int ood_command_demo(int argc, char **argv);

/* The one-line usage of the commands table; every flag, with its default, comes from the
 * commands' flag tables (ood_args.h): darknet classifier CMD -h. */
#define OOD_USAGE_OOD "classifier ood DATA CFG WEIGHTS [flags] (-h: the flags)"
#define OOD_USAGE_PREDICT "classifier predict DATA CFG [WEIGHTS [IMAGE]] [flags] (-h: the flags)"
#define OOD_USAGE_DEMO "classifier demo DATA CFG [WEIGHTS [VIDEO]] [flags] (-h: the flags)"

#endif
