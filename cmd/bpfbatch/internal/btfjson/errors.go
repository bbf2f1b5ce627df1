package btfjson

import "errors"

// FieldError is JSON that does not fit the type: Path names the member,
// "addr.port" or "ips[2]" (empty for the value itself), Msg what is wrong.
type FieldError struct {
	Path string
	Msg  string
}

// Error returns "PATH: MSG", or MSG for the value itself.
func (e *FieldError) Error() string {
	if e.Path == "" {
		return e.Msg
	}
	return e.Path + ": " + e.Msg
}

// WithPath returns err with root put in front of its path when it is a
// *FieldError ("value" makes "addr.port: ..." "value.addr.port: ..."),
// else err.
func WithPath(err error, root string) error {
	var fe *FieldError
	if !errors.As(err, &fe) {
		return err
	}
	path := root
	switch {
	case fe.Path == "":
	case root == "" || fe.Path[0] == '[':
		path += fe.Path
	default:
		path += "." + fe.Path
	}
	return &FieldError{Path: path, Msg: fe.Msg}
}
