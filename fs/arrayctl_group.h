/*
 * arrayctl_group.h - arrayctl's subcommands for segment groups (Turi SFrame
 * v2 array groups): ls, cat, check, info, import, export, compact,
 * convert. fs/arrayctl.c dispatches to
 * arrayctl_group_cmd() when its ARRAY argument is a group.
 */
#ifndef ARRAYCTL_GROUP_H
#define ARRAYCTL_GROUP_H

#include <stdbool.h>

/*
 * Run `cmd` on a group. argv[0] is the group path, argv[1..] the command's
 * arguments (argc counts them all). Returns the exit status (0 success,
 * 1 failure or problems found, 2 usage), or -1 if cmd is not a group
 * command so that the caller can fall through. For import, argv[0] is
 * the CSV file; for convert, argv[0] is "--lz4". Errors go to stderr as
 * "arrayctl: <file>: <what is wrong>".
 */
int arrayctl_group_cmd(const char *cmd, int argc, char **argv);

/* True if path is a directory holding a *.sidx or *.frame_idx (or is a
 * *.sidx file). */
bool arrayctl_is_group(const char *path);

#endif
