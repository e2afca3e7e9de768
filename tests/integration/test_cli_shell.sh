#!/usr/bin/env bash
# test_cli_shell.sh — `sbx shell` and `sbx attach` as a person uses them,
# driven through a real terminal (tmux: send-keys, capture-pane) against a
# real sbxd and real containers: the shell echoes what is typed, `stty
# size` sees the window's size and a resize of it, a full-screen (curses)
# program draws its screen and leaves it cleanly, the remote exit status
# becomes sbx's and the local terminal is restored (not raw) afterwards,
# Ctrl-] detaches and `sbx attach` comes back to the same terminal;
# `sbx watch` shows changes live and Ctrl-C ends it.
# Every wait is for what the screen shows, bounded as a safety net.
set -u
. "$(dirname "$0")/cli_lib.sh"
cli_start clishell
command -v tmux >/dev/null || { echo "tmux is missing: deploy/deps.sh installs it" >&2; exit 1; }

tm() { tmux -S "$dir/tmux.sock" "$@"; }
tmux_cleanup() { tm kill-server 2>/dev/null; cli_cleanup; }
trap tmux_cleanup EXIT
# what window W shows (its visible screen)
screen() { tm capture-pane -p -t "$1"; }
# waits until window W shows text matching the extended regex; 0 when it did
wait_screen() {
	for _ in $(seq 1200); do
		screen "$1" | grep -Eq -- "$2" && return 0
		sleep 0.1
	done
	echo "  window $1 never showed /$2/; it shows:" >&2; screen "$1" | sed 's/^/  | /' >&2
	return 1
}

# waits until window W no longer shows text matching the regex
wait_gone() {
	for _ in $(seq 1200); do
		screen "$1" | grep -Eq -- "$2" || return 0
		sleep 0.1
	done
	return 1
}

sid=$("$SBX_BIN" session create --user cli-shell)
check "session create" [ -n "$sid" ]
"$SBX_BIN" write "$sid" /workspace/fs.py <<'PY'
import curses
def main(w):
    h, c = w.getmaxyx()
    w.addstr(h // 2, 2, 'SBX-FULLSCREEN %dx%d' % (c, h))
    w.refresh()
    while w.getch() != ord('q'):
        pass
curses.wrapper(main)
PY

# the pane: sbx shell, then its status and whether this terminal is raw
after='echo SHELL-EXIT-$?; stty -a | tr " ;" "\n\n" | grep -x -e -icanon -e icanon -e -echo -e echo | tr "\n" " "; echo STTY-END; sleep 1000'
tm -f /dev/null new-session -d -s t -x 100 -y 30 "TERM=xterm-256color \"$SBX_BIN\" shell $sid; $after"
check "the shell's prompt shows" wait_screen t '^\$ ?$'
tm send-keys -t t 'echo hi-$((6*7))' Enter
check "the shell echoes what is typed" wait_screen t 'hi-42'
tm send-keys -t t 'stty size' Enter
check "stty size is the window's" wait_screen t '^30 100'
tm resize-window -t t -x 120 -y 40
tm send-keys -t t 'clear; stty size' Enter
check "a resize reaches it" wait_screen t '^40 120'
tm send-keys -t t 'python3 /workspace/fs.py' Enter
check "a full-screen program draws its screen" wait_screen t 'SBX-FULLSCREEN 120x40'
tm send-keys -t t q
# typing on before the program has gone would be read by it (or dropped as
# the terminal's modes change back): wait for its screen to go first
check "it leaves cleanly: its screen is gone" wait_gone t 'SBX-FULLSCREEN'
tm send-keys -t t 'echo back-$((1+1))' Enter
check "... and the shell is back" wait_screen t 'back-2'
tm send-keys -t t 'exit 7' Enter
check "sbx shell exits with the remote status" wait_screen t 'SHELL-EXIT-7'
check "the local terminal is restored (canonical, echoing)" wait_screen t '^icanon echo STTY-END'

# detach with Ctrl-], come back with attach
tm new-window -d -t t:2 "\"$SBX_BIN\" shell $sid; $after"
wait_screen t:2 '^\$ ?$' >/dev/null
tm send-keys -t t:2 'echo first-$((2+2))' Enter
check "a second shell runs" wait_screen t:2 'first-4'
tm send-keys -t t:2 C-]
check "Ctrl-] detaches" wait_screen t:2 'detached from terminal t[0-9]+'
check "... with status 0, the terminal restored" wait_screen t:2 '^icanon echo STTY-END'
term=$(screen t:2 | grep -Eo 'detached from terminal t[0-9]+' | grep -Eo 't[0-9]+$')
check "... and the terminal still runs" eq "$("$SBX_BIN" --json exec "$sid" -- true >/dev/null; echo ok)" ok
tm new-window -d -t t:3 "\"$SBX_BIN\" attach $sid $term; $after"
check "attach replays the screen" wait_screen t:3 'first-4'
tm send-keys -t t:3 'echo again-$((3+3))' Enter
check "attach types into the same terminal" wait_screen t:3 'again-6'
tm new-window -d -t t:4 "\"$SBX_BIN\" attach --read-only $sid $term; $after"
check "a read-only attach sees it too" wait_screen t:4 'again-6'
tm send-keys -t t:4 'echo never-$((4+4))' Enter
tm send-keys -t t:3 'echo seen-$((5+5))' Enter
check "the typing attach's line shows in the read-only one" wait_screen t:4 'seen-10'
check "... and the read-only one's typing went nowhere" eval '! screen t:3 | grep -q never-8'
tm send-keys -t t:3 'exit 3' Enter
check "attach exits with the terminal's status" wait_screen t:3 'SHELL-EXIT-3'
check "... and so does the read-only one" wait_screen t:4 'SHELL-EXIT-3'
"$SBX_BIN" attach "$sid" t999999 2>"$dir/err"
check "attach to an unknown terminal exits 1" eq "$?" "1"
check "... saying NOT_FOUND" grep -q "NOT_FOUND" "$dir/err"

# sbx watch: live changes, Ctrl-C ends it
tm new-window -d -t t:5 "\"$SBX_BIN\" watch $sid; $after"
wait_screen t:5 'watching as w[0-9]+' >/dev/null
"$SBX_BIN" exec "$sid" -- sh -c 'printf abc > /workspace/cli-w.txt; mv /workspace/cli-w.txt /workspace/cli-w2.txt'
check "sbx watch shows a creation" wait_screen t:5 '^created 3 /workspace/cli-w.txt$|^moved 3 /workspace/cli-w.txt -> /workspace/cli-w2.txt$|^created 3 /workspace/cli-w2.txt$'
check "... and the move" wait_screen t:5 'cli-w2.txt$'
tm send-keys -t t:5 C-c
check "Ctrl-C ends it with status 0" wait_screen t:5 'SHELL-EXIT-0'

echo "$((checks-fails)) passed, $fails failed" >&2
[ "$fails" -eq 0 ]
