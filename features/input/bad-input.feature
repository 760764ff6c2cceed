Feature: Bad input gets one line that says what and where, and exit status 2

  exitpath never answers a user's mistake with a stack trace. A configuration file is parsed as YAML
  and then checked against a JSON schema (ajv): a syntax error, a key the schema does not know, a
  value of the wrong type or out of range, and a combination qemu itself refuses are each reported
  on one line that starts with the file, line and column of the offending text. An action that is
  not a guest instruction, and a disk image that does not exist, are reported the same way. These
  scenarios run the real command, `node bin/exitpath.js`, and read its stderr and exit status.

  Scenario: Malformed YAML: the position where the parser gave up
    The flow sequence opened on line 2 is never closed; the parser notices at the start of line 3.

    Given the file "vm.yaml" holds:
      """
      disk:
        cache: [none
      """
    When exitpath is run with: explain "cpuid 0x0" --config vm.yaml
    Then it exits with status 2
    And it prints nothing on stdout
    And stderr is the one line:
      """
      exitpath: vm.yaml:3:1: YAML syntax error: Flow sequence in block collection must be sufficiently indented and end with a ]
      """

  Scenario: A key with a typo points at the key itself
    Given the file "vm.yaml" holds:
      """
      vcpus: 1
      disk:
        cahce: none
      """
    When exitpath is run with: explain "write hi /x" --config vm.yaml
    Then it exits with status 2
    And stderr is one line that starts with "exitpath: vm.yaml:3:3: unknown key 'disk.cahce' (expected one of: "

  Scenario: A value of the wrong type points at the value
    Given the file "vm.yaml" holds:
      """
      memory_mib: lots
      """
    When exitpath is run with: explain "cpuid 0x0" --config vm.yaml
    Then it exits with status 2
    And stderr is the one line:
      """
      exitpath: vm.yaml:1:13: 'memory_mib' must be integer
      """

  Scenario: A value out of range, and one outside an enumeration
    Given the file "vcpus.yaml" holds:
      """
      vcpus: 100
      """
    And the file "werror.yaml" holds:
      """
      disk:
        werror: explode
      """
    When exitpath is run with: explain "cpuid 0x0" --config vcpus.yaml
    Then it exits with status 2
    And stderr is the one line:
      """
      exitpath: vcpus.yaml:1:8: 'vcpus' must be <= 64
      """
    When exitpath is run with: explain "cpuid 0x0" --config werror.yaml
    Then it exits with status 2
    And stderr is the one line:
      """
      exitpath: werror.yaml:2:11: 'disk.werror' must be one of "report", "ignore", "stop", "enospc"
      """

  Scenario: A combination qemu refuses: aio=native needs O_DIRECT, which cache=writeback does not give
    Given the file "vm.yaml" holds:
      """
      disk:
        cache: writeback
      """
    When exitpath is run with: explain "cpuid 0x0" --config vm.yaml
    Then it exits with status 2
    And stderr is the one line:
      """
      exitpath: vm.yaml:2:10: 'disk.cache' writeback needs 'disk.backend' threads or io_uring: qemu refuses aio=native without O_DIRECT (cache.direct=on: cache none or directsync)
      """

  Scenario: The 2013 profile is one era: what Linux 3.2 and qemu-kvm 0.14 did not have is refused
    `profile: qemu-kvm-2013` is Fedora 15's kvm and qemu-kvm 0.14; a setting from a later kernel or
    qemu is an error at its own line, not a silent mix of eras.

    Given the file "vm.yaml" holds:
      """
      profile: qemu-kvm-2013
      irqchip: split
      """
    When exitpath is run with: explain "cpuid 0x0" --config vm.yaml
    Then it exits with status 2
    And stderr is the one line:
      """
      exitpath: vm.yaml:2:10: 'irqchip' split does not exist with profile qemu-kvm-2013 (KVM_CAP_SPLIT_IRQCHIP came with Linux 4.4)
      """
    When exitpath is run with: explain "cpuid 0x0" --set profile=qemu-kvm-2013 --set disk.backend=io_uring
    Then it exits with status 2
    And stderr is the one line:
      """
      exitpath: --set disk.backend=io_uring: 'disk.backend' io_uring does not exist with profile qemu-kvm-2013 (io_uring came with Linux 5.1)
      """

  Scenario: A disk image that does not exist
    Given the file "vm.yaml" holds:
      """
      disk:
        image: /nonexistent/disk.img
      """
    When exitpath is run with: explain "cpuid 0x0" --config vm.yaml
    Then it exits with status 2
    And stderr is the one line:
      """
      exitpath: vm.yaml:2:10: 'disk.image' /nonexistent/disk.img cannot be opened (ENOENT)
      """

  Scenario: A disk image that holds no ext2 file system
    The guest mounts its disk as ext2: an image without the superblock's magic number at byte
    1024 + 56 is refused before the VM starts, with the command that makes one.

    Given the file "blank.img" holds:
      """
      not a file system
      """
    And the file "vm.yaml" holds:
      """
      disk:
        image: blank.img
      """
    When exitpath is run with: explain "cpuid 0x0" --config vm.yaml
    Then it exits with status 2
    And stderr is the one line:
      """
      exitpath: vm.yaml:2:10: 'disk.image' blank.img is not an ext2 file system the guest can mount: it is 18 bytes long, too short to hold an ext2 superblock (make one with mkfs.ext2 -b 4096 blank.img 64M)
      """

  Scenario: An instruction with a missing operand
    When exitpath is run with: explain "outw 0xc050"
    Then it exits with status 2
    And stderr is one line that starts with "exitpath: action \"outw 0xc050\": 'outw' takes 2 operands; expected e.g. "

  Scenario: A step nobody defined fails the run (cucumber is strict)
    When cucumber runs a feature with the step "the guest juggles three vCPUs"
    Then it exits with status 1
    And its output says the step is undefined

  Scenario: A vCPU the VM does not have, a process action on an AP, SMP where it is not modelled
    When exitpath is run with: explain "cpuid 0x0" --set vcpus=2 --vcpu 2
    Then it exits with status 2
    And stderr is the one line:
      """
      exitpath: there is no vCPU 2: the VM has 2 (vCPU 0 to 1)
      """
    When exitpath is run with: explain "write hi /x" --set vcpus=2 --vcpu 1
    Then it exits with status 2
    And stderr is the one line:
      """
      exitpath: only kernel instructions run on vCPU 1: a process's syscalls and its I/O run on vCPU 0
      """
    When exitpath is run with: explain "cpuid 0x0" --set vcpus=2 --set irqchip=userspace
    Then it exits with status 2
    And stderr is the one line:
      """
      exitpath: --set: vcpus above 1 with irqchip: userspace (IPIs need kvm's local APICs) is not modelled yet
      """

  Scenario: YAML aliases are refused before anything is built, in a file and in --set
    A configuration is a handful of plain values; an alias only writes one twice, and a few nested
    aliases can stand for an enormous document. The position is the alias's.

    Given the file "vm.yaml" holds:
      """
      vcpus: 1
      memory_mib: *b
      """
    When exitpath is run with: explain "cpuid 0x0" --config vm.yaml
    Then it exits with status 2
    And stderr is the one line:
      """
      exitpath: vm.yaml:2:13: YAML anchors and aliases are not accepted in a configuration (*b): write the value itself
      """
    When exitpath is run with: explain "cpuid 0x0" --set vcpus=*a
    Then it exits with status 2
    And stderr is the one line:
      """
      exitpath: --set vcpus=*a: YAML anchors and aliases are not accepted (*a): write the value itself
      """

  Scenario: A --set with a misspelt key names the argument and the nearest key
    When exitpath is run with: explain "cpuid 0x0" --set disk.cahce=none
    Then it exits with status 2
    And stderr is the one line:
      """
      exitpath: --set disk.cahce=none: unknown key 'cahce' in disk — did you mean cache?
      """

  Scenario: A write whose buffer cannot fit in the guest, and a usage error
    The guest process's buffer comes from the guest kernel's pages above 1 MiB, less 1 MiB the
    kernel keeps: with 512 MiB that is 510 MiB, 522,240 KiB.

    When exitpath is run with: explain "write-blocks 1 1000000000 /x"
    Then it exits with status 2
    And stderr is one line that starts with "exitpath: action \"write-blocks 1 1000000000 /x\": a write of 1000000000 KiB needs a buffer of 1,024,000,000,000 bytes in the guest, which has 512 MiB of RAM: at most 522,240 KiB"
    When exitpath is run with: explain "cpuid 0x0" --colour
    Then it exits with status 2
    And stderr is the one line:
      """
      exitpath: unknown option --colour; try `exitpath --help`
      """
