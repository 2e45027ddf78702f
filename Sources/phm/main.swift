import CLI;

await runCommandLine()
