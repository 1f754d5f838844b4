/* The built-in example: a tiny static program, the kind of artifact kiln packages. */
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    printf("hello from a kiln-built image (uid %d", (int)getuid());
    for (int i = 1; i < argc; i++)
        printf("%s%s", i == 1 ? ", args: " : " ", argv[i]);
    printf(")\n");
    return 0;
}
