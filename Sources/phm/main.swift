import CLI; await runCommandLine()
