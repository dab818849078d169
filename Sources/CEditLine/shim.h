// libedit's readline-compatible line editor (BSD licensed), for `lo repl`.
#include <stdio.h>
#include <editline/readline.h>
