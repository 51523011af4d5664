/*
 * Only the sandbox CLI defines this: the constructor of package nsenter
 * (nsenter.c) runs its C fast paths (`sandbox run -- CMD`: fastrun.c;
 * `sandbox exec`: fastexec.c) only in a binary that does. Another program
 * that links package nsenter (a test binary using sandboxtest, a program
 * using the library) keeps its own command line, "run" or "exec" first
 * or not.
 */
const int sandbox_cli_fast_paths = 1;
