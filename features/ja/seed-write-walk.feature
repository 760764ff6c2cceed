# language: ja
機能: 実例: virtio-blk 上のファイルへの write()

  「QEMUとkvmとvt-x」(Kernel/VM 探検隊, 2013年4月) の実例を、そのまま実行できる仕様にしたもの。
  ゲストOSは起動済み。ゲストOSのプロセスが virtio-blk デバイス上のファイルに write したとき、
  処理は ①〜⑩ の順に箱を越えていく。ディスクは legacy virtio-pci (I/O BAR は 0xc040、queue notify
  レジスタは 0xc040 + 16 = 0xc050)、qemu-kvm は Linux AIO でイメージファイルに書き、irqchip は
  カーネルの中にある。ディスクのファイルシステムは ext2 で、プロセスはファイルを O_SYNC で開く
  (書いたデータはページキャッシュを通り、write が返る前にディスクまで書き戻される)。英語の
  features/seed/write-walk.feature と同じスタックで動く。

  シナリオ: 発表の ①〜⑩
    もし ゲストのプロセスが "/hello.txt" に "hello" を write する
    ならば 処理は次の順に境界を越える:
      | 送り手   | 受け手   | 名前           |
      | プロセス | ゲストOS | write          |
      | ゲストOS | vt-x     | outw           |
      | vt-x     | kvm      | IO_INSTRUCTION |
      | kvm      | qemu-kvm | KVM_EXIT_IO    |
      | qemu-kvm | ホストOS | io_submit      |
      | ホストOS | qemu-kvm | io_submit      |
      | qemu-kvm | kvm      | KVM_RUN        |
      | kvm      | vt-x     | VMRESUME       |
      | vt-x     | ゲストOS | outw           |
      | ゲストOS | プロセス | write          |
    かつ 処理はステージ 1 から 10 を順に通る

  シナリオ: kvm の中にデバイスがないので、ioctl が qemu-kvm に返る
    ② の outw (PORT I/O) は VMExit になり、kvm の handle_io はこのポートを処理する関数を
    持っていない。だから ioctl(KVM_RUN) が KVM_EXIT_IO で return し、qemu-kvm の kvm_handle_io が
    ポート番号から virtio-blk を見つけ、Linux AIO の io_submit でイメージファイルに書く。

    もし ゲストのプロセスが "/hello.txt" に "hello" を write する
    ならば VMExit の理由は IO_INSTRUCTION
    かつ kvm は handle_io で VMExit を処理する
    かつ VMExit は KVM_EXIT_IO として qemu-kvm に届く
    かつ qemu-kvm はそれを "virtio-blk-pci" デバイスに渡す
    かつ ホストOSで io_submit が呼ばれる

  シナリオ: 書いたバイトはゲストのファイルシステムが決めた場所に届く
    ディスクは ext2 (4 KiB ブロック)。ファイルの最初のブロックには左隣も間接ブロックもないので、
    ext2_find_near はブロックグループの先頭 (0) にプロセス ID による色 (pid mod 16) × 32768 / 16
    = 2048 を足した所を狙う。ブロック 2048 は空いているので、先頭はディスクの
    2048 × 4096 = 8388608 バイト目になる。

    もし ゲストのプロセスが "/hello.txt" に "hello" を write する
    ならば write は 5 を返す
    かつ ディスクイメージの 8388608 バイト目から "hello" が書かれている

  シナリオ: 同期 write 1 回で起きる VMExit の数
    リクエスト 1 つにつき VMExit は 4 回。ドライバの kick (notify ポートへの outw) で 1 回、qemu-kvm
    まで届く I/O の VMExit。プロセスが眠るとアイドルの vCPU が hlt を実行し、LAPIC がカーネルの中に
    あるので kvm が vCPU を止める (2 回目)。完了すると qemu-kvm が INTx を上げ、kvm が次の VMEnter で
    割り込みを入れる。割り込みハンドラが virtio の ISR を読み (inb: qemu-kvm まで届く 3 回目、qemu-kvm
    はここで線を下げる)、local APIC に EOI を書く (x2APIC の wrmsr: kvm の中で処理される 4 回目。
    INTx は IOAPIC を通る level-triggered の割り込みで、IOAPIC が EOI を知る必要があるので、
    kvm は PV EOI を使わせない)。ファイルは O_SYNC で開かれ、ext2 の上の write はリクエストを 4 つ
    出す: ブロックビットマップの読み出し、データ、inode、ディスクのキャッシュのフラッシュ。その前の
    open がディレクトリのブロックと inode ビットマップを読むので、合わせて 6 リクエスト: VMExit は
    6 × 4 = 24 回、そのうち 6 × 2 = 12 回が qemu-kvm まで届く。読み書き 5 つは io_submit で出し、
    完了は eventfd で知って、カーネルが qemu-kvm のメモリに置いたリングから直接読む (io_getevents は
    呼ばない)。フラッシュはスレッドプールの fdatasync になる。線は KVM_IRQ_LINE_STATUS で上げ下げ
    する (kvm が KVM_CAP_IRQ_INJECT_STATUS を持つので kvm_init は KVM_IRQ_LINE ではなくこちらを
    選ぶ): 完了ごとに上げて ISR の読み出しで下げるので 2 × 6 = 12 回。

    もし ゲストのプロセスが "/hello.txt" に "hello" を write する
    ならば VMExit は 24 回
    かつ qemu-kvm まで届く VMExit は 12 回
    かつ ホストOSで io_submit が 5 回呼ばれる
    かつ ホストOSで io_getevents は呼ばれない
    かつ ホストOSで KVM_IRQ_LINE_STATUS が 12 回呼ばれる
    かつ 最初の VMEnter は VMRESUME

  シナリオ: 昔の kvm (2013年の発表の環境) でも同じ道を通る
    発表の環境は Fedora 15 (kernel 2.6.42 = 3.2) の qemu-kvm 0.14。kvm の exit handler 表の名前は
    今と違う (hlt は handle_halt、wrmsr は handle_wrmsr)。qemu-kvm のメインループは ppoll ではなく
    select() で待ち、Linux AIO の完了は io_getevents で取る。ゲストの Linux 3.2 には blk-mq がなく、
    virtio_blk はリクエスト関数 do_virtblk_request で ring に積んで virtqueue_kick する。また 3.2 の
    ext2 の fsync (generic_file_fsync) はディスクのキャッシュをフラッシュしないので、write の
    リクエストはフラッシュのない 3 つ、open の 2 つと合わせて 5 つ。キック、exit、割り込みの順番は同じ。

    前提 VM の設定は次のとおり:
      """
      profile: qemu-kvm-2013
      """
    もし ゲストのプロセスが "/hello.txt" に "hello" を write する
    ならば 処理はステージ 1 から 10 を順に通る
    かつ トレースはゴールデンファイル "../golden/seed-write-2013.yaml" と一致する
