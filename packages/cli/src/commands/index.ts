import type { Command } from 'commander';
import { register as build } from './build.ts';

/** The command table: one file per command, registered in help order. */
export const commands: ((program: Command) => void)[] = [build];
