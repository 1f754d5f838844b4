/* A static program, the whole content of its container image: no libc, no
 * shell, no base image beside it. It greets, says who runs it and shows its
 * configuration (argv, an environment variable) as the image config set it. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    const char *greeting = getenv("GREETING");
    printf("%s from static-app, uid %d, pid %d\n", greeting ? greeting : "hello", (int)getuid(),
           (int)getpid());
    for (int i = 1; i < argc; i++)
        printf("arg %d: %s\n", i, argv[i]);
    return 0;
}
