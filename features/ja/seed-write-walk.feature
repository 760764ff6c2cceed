# language: ja
機能: 実例: virtio-blk 上のファイルへの write()

  「QEMUとkvmとvt-x」(Kernel/VM 探検隊, 2013年4月) の実例を、そのまま実行できる仕様にしたもの。
  ゲストOSは起動済み。ゲストOSのプロセスが virtio-blk デバイス上のファイルに write したとき、
  処理は ①〜⑩ の順に箱を越えていく。ディスクは legacy virtio-pci (I/O BAR は 0xc040、queue notify
  レジスタは 0xc040 + 16 = 0xc050)、qemu-kvm は Linux AIO でイメージファイルに書き、irqchip は
  カーネルの中にある。英語の features/seed/write-walk.feature と同じスタックで動く。

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
    exitfs はデータブロック (4 KiB) を作った順にブロック 1 から割り当てるので、最初のファイルの
    先頭はディスクの 1 × 4096 = 4096 バイト目になる。

    もし ゲストのプロセスが "/hello.txt" に "hello" を write する
    ならば write は 5 を返す
    かつ ディスクイメージの 4096 バイト目から "hello" が書かれている

  シナリオ: 同期 write 1 回で起きる VMExit の数
    ドライバの kick (notify ポートへの outw) で 1 回、qemu-kvm まで届く I/O の VMExit。プロセスが
    眠るとアイドルの vCPU が hlt を実行し、LAPIC がカーネルの中にあるので kvm が vCPU を止める
    (2 回目)。AIO が完了すると qemu-kvm が INTx を上げ、kvm が次の VMEnter で割り込みを入れる。
    割り込みハンドラが virtio の ISR を読み (inb: qemu-kvm まで届く 3 回目、qemu-kvm はここで線を
    下げる)、local APIC に EOI を書く (x2APIC の wrmsr: kvm の中で処理される 4 回目)。
    合わせて 4 回、そのうち 2 回が qemu-kvm まで届く。qemu-kvm は AIO の完了を eventfd で知り、
    カーネルが自分のメモリに置いたリングから完了イベントを直接読む (io_getevents は呼ばない)。

    もし ゲストのプロセスが "/hello.txt" に "hello" を write する
    ならば VMExit は 4 回
    かつ qemu-kvm まで届く VMExit は 2 回
    かつ ホストOSで io_submit が 1 回呼ばれる
    かつ ホストOSで io_getevents は呼ばれない
    かつ ホストOSで KVM_IRQ_LINE_STATUS が 2 回呼ばれる
    かつ 最初の VMEnter は VMRESUME

  シナリオ: 昔の kvm (2013年の発表の環境) でも同じ道を通る
    発表の環境は Fedora 15 (kernel 2.6.42 = 3.2) の qemu-kvm 0.14。kvm の exit handler 表の名前は
    今と違う (hlt は handle_halt、wrmsr は handle_wrmsr)。qemu-kvm のメインループは ppoll ではなく
    select() で待ち、Linux AIO の完了は io_getevents で取る。キック、exit、割り込みの順番は同じ。

    前提 VM の設定は次のとおり:
      """
      profile: qemu-kvm-2013
      """
    もし ゲストのプロセスが "/hello.txt" に "hello" を write する
    ならば 処理はステージ 1 から 10 を順に通る
    かつ トレースはゴールデンファイル "../golden/seed-write-2013.yaml" と一致する
