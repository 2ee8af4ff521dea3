/* `darknet classifier export DATA CFG WEIGHTS OUT.onnx [flags]` (a row of plugin_commands in
 * layer_registry.c): the network's inference graph as ONNX (onnx_export.h), with the class
 * names and, when WEIGHTS.ood exists, its deployment threshold in the model's metadata.
 * Returns the process's exit status. */
#ifndef EXPORT_COMMAND_H
#define EXPORT_COMMAND_H

int export_command(int argc, char **argv);

#define EXPORT_USAGE "classifier export DATA CFG WEIGHTS OUT.onnx [-ood FILE] [-noood] [-force]"

#endif
