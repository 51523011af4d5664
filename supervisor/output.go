package supervisor

import (
	"bufio"
	"errors"
	"io"
	"sync"
)

// terminal serialises whole lines from every container onto one writer.
type terminal struct {
	mu sync.Mutex
	w  io.Writer
}

func (t *terminal) writeLine(prefix string, line []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if prefix != "" {
		io.WriteString(t.w, prefix)
	}
	t.w.Write(line)
}

// maxLine bounds how much of one line is buffered before it is written out
// in pieces, so a container printing without newlines cannot grow memory.
const maxLine = 64 << 10

// logWriter is where copyLines records each line (crilog.Writer).
type logWriter interface {
	WriteLine(stream string, line []byte) error
}

// copyLines copies r line by line to the log (CRI format, one entry per
// line) and to the terminal with the prefix (docker compose style). It
// returns at EOF, which comes when every process holding the pipe's write
// end has exited.
func copyLines(r io.Reader, stream, prefix string, term *terminal, log logWriter) {
	br := bufio.NewReaderSize(r, maxLine)
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			if log != nil {
				log.WriteLine(stream, line)
			}
			if term != nil {
				out := line
				if line[len(line)-1] != '\n' && !errors.Is(err, bufio.ErrBufferFull) {
					// Last, unterminated line: end it so prefixes stay aligned.
					out = append(append([]byte(nil), line...), '\n')
				}
				term.writeLine(prefix, out)
			}
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return
		}
	}
}
