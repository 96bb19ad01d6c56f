// Command cardmod inspects and provisions smart cards, serves simulated
// cards, and runs an ssh-agent over the keys of every card: cardmod's
// providers (package basecsp) as a program, working on every card a
// plug-in takes (PIV, GIDS) in the system's readers (pcscd), or on the
// embedded simulated card kept in a state file (-sim FILE), so that
// everything can be tried without hardware.
//
//	go install github.com/cardmod/cardmod/cmd/cardmod@latest
//	cardmod list                       # readers, cards, keys, certificates
//	eval $(cardmod agent)              # an ssh-agent with the card keys
//	ssh-add -l
//
// # Commands
//
//	list [-json|-ssh]            readers, cards (plug-in, card ID, serial, free
//	                             space, PIN and PUK tries), containers with
//	                             algorithm and size, certificates (subject,
//	                             issuer, validity, SHA-256 fingerprint), as
//	                             certutil -scinfo shows a card; a card that
//	                             cannot be read is listed with its error;
//	                             -ssh prints the agent's keys as
//	                             authorized_keys lines
//	agent [-D] [-a SOCKET] [-k]  an ssh-agent serving the card keys (see below)
//	generate [-alg A] NAME       a new key on the card (p256, p384, p521,
//	                             ecdh-p256, ecdh-p384, rsa1024..rsa4096); prints
//	                             the public key; progress on a terminal
//	import -in FILE NAME         a private key (PEM or DER: PKCS #8, PKCS #1,
//	                             SEC 1) and the certificate beside it
//	delete NAME                  a container with its keys and certificates
//	cert import -in FILE NAME    a certificate for the container's key
//	cert export NAME             the certificate, PEM
//	csr -subject DN NAME         a certificate request signed on the card
//	selfsign -subject DN NAME    a self-signed certificate, stored and printed
//	sign [-hash H] [-pss] NAME   signs standard input or -in FILE; the
//	                             signature is verified before it is printed
//	pin info [-json]             the PIN and PUK tries left
//	pin change [-puk]            changes the PIN (or the PIV PUK)
//	pin unblock                  unblocks the PIN: with the PUK (PIV), with the
//	                             admin key (GIDS)
//	init                         initializes a blank GIDS card
//	serve [-addr A] [-vpcd-reader R]
//	                             serves the -sim card to pcscd through vpcd
//	                             at A and waits until pcscd reports it in R
//	                             (default -reader, else Debian's vpcd names)
//	help [COMMAND]               the commands, flags and exit codes
//
// # Global flags
//
// They go before or after the command:
//
//	-reader NAME         use this reader only: no other reader is listed,
//	                     watched or connected to (default: every reader;
//	                     one-card commands take the first card a plug-in
//	                     takes)
//	-sim FILE            the embedded simulated card kept in FILE (created on
//	                     first use; its state is saved when it changes)
//	-sim-card piv|gids   the kind of a new simulated card
//	-profile NAME        the card family of a new simulated card (-sim and
//	                     serve; a state file that exists keeps its card's):
//	                     PIV (cardsim/piv.Profiles): yubikey-5.7 (the
//	                     default), yubikey-5.4, yubikey-5.0, yubikey-4,
//	                     yubikey-neo, piv-issued, piv-applet; GIDS
//	                     (cardsim/gids.Profiles): gids-rsa-ec (the default),
//	                     gids-rsa, gids-rsa-quiet
//	-trace               every APDU on standard error; PINs, keys and
//	                     management-key cryptograms redacted
//	-pinentry PATH       ask for PINs with this pinentry program (the Assuan
//	                     protocol of GnuPG's pinentry-tty, -curses, ...);
//	                     also $CARDMOD_PINENTRY
//	-pin-stdin           read PINs from standard input, one a line
//	-mgmt-key-file FILE  the PIV management key or GIDS admin key, in hex;
//	                     default: the factory key
//	-cache-dir DIR       keep the cards' public data (container maps, key
//	                     metadata, certificates; never PINs) under DIR for
//	                     the next calls, trusted only as far as each card
//	                     confirms it (cardcf, or a signature checked
//	                     against the cached key); also $CARDMOD_CACHE_DIR;
//	                     default: none, every call reads the card
//
// PINs are asked on the terminal with echo off unless -pin-stdin or a
// pinentry program is given; never taken from an argument or the
// environment. A wrong PIN is never retried by cardmod itself.
//
// # The agent
//
// `eval $(cardmod agent)` starts an ssh-agent in the background and sets
// SSH_AUTH_SOCK and SSH_AGENT_PID, as ssh-agent does (-D: stay in the
// foreground and log to standard error; -a: the socket path; -k: stop the
// agent of $SSH_AGENT_PID). It listens on a socket in a new private
// directory (0700; the socket 0600) and serves every ECDSA (P-256, P-384,
// P-521) and RSA key of every card (of -reader's card only, when given),
// named by certificate subject (or container), container, card (plug-in
// and serial number) and reader, as in "Alice [auth] PIV 10000001 in
// Yubico YubiKey OTP+FIDO+CCID 00 00". Keys come and go as cards are
// inserted and removed; when the PC/SC service restarts, the agent connects
// again (and asks for the PIN again). The agent keeps a shared connection
// to each card, so the card stays powered and other programs
// still get it; each signature is one transaction in which the PIN is
// verified (cached as the card's PIN policy allows, asked through pinentry
// or the terminal otherwise) and logged out again. A wrong PIN is never
// retried. ssh-add -x locks the agent: the cached PINs are forgotten and no
// key is served until ssh-add -X. Adding and removing keys is refused: the
// agent serves card keys only. Its log names keys and errors, never a PIN,
// data or signature. -exclusive holds the cards exclusively instead (one
// APDU fewer per signature; other programs are kept out).
//
// In the background the agent has no terminal: it asks for PINs with
// -pinentry, $CARDMOD_PINENTRY or the pinentry program on $PATH, on the
// terminal it was started from ($GPG_TTY, else standard input's).
//
// # Concurrency
//
// Each command is one run of one goroutine, except the agent: it serves
// every client connection in its own goroutine (any number of ssh sessions
// at once), with a watcher goroutine beside them; the provider underneath
// serialises the operations on one card and runs different cards in
// parallel, and PIN questions are asked one at a time.
//
// # Errors and exit codes
//
// A failure is one line on standard error that says what failed and what to
// do. The exit codes:
//
//	0  success
//	1  the operation failed (the card refused it, a file could not be read, ...)
//	2  usage: unknown command, bad flag or argument
//	3  no such reader, card, container or key, or no plug-in takes the card
//	4  PIN: wrong, blocked, cancelled, or needed with no way to ask for it
//	5  pcscd is not reachable
package main
