#!/usr/bin/env node
// Entry point of the mcp-edge command; the CLI itself is host/src/cli.ts.
import { main } from '../dist/cli.js';

await main(process.argv.slice(2));
