package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Dir is a Store in a local directory. Every write goes to a temporary file
// in the destination directory, is synced, and is renamed into place.
type Dir struct {
	root string
}

// OpenDir opens (and creates) a directory store.
func OpenDir(root string) (*Dir, error) {
	if root == "" {
		return nil, fmt.Errorf("%w: empty directory", ErrLocation)
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("open store %s: %w", root, err)
	}
	return &Dir{root: root}, nil
}

func (d *Dir) String() string { return d.root }

func (d *Dir) path(key string) (string, error) {
	if err := checkKey(key); err != nil {
		return "", err
	}
	return filepath.Join(d.root, filepath.FromSlash(key)), nil
}

// writeTemp writes data to a synced temporary file beside dst.
func writeTemp(dst string, data []byte) (string, error) {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return "", err
	}
	f, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".*.tmp")
	if err != nil {
		return "", err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

// stage checks the key and writes data to a synced temporary file beside
// its destination.
func (d *Dir) stage(ctx context.Context, op, key string, data []byte) (dst, tmp string, err error) {
	if err := ctx.Err(); err != nil {
		return "", "", err
	}
	if dst, err = d.path(key); err != nil {
		return "", "", err
	}
	if tmp, err = writeTemp(dst, data); err != nil {
		return "", "", fmt.Errorf("%s %s in %s: %w", op, key, d.root, err)
	}
	return dst, tmp, nil
}

// Put writes the object atomically.
func (d *Dir) Put(ctx context.Context, key string, data []byte) error {
	dst, tmp, err := d.stage(ctx, "put", key, data)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, dst); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("put %s in %s: %w", key, d.root, err)
	}
	return nil
}

// Create writes the object only if it does not exist: the complete
// temporary file is hard-linked to the key, which fails if the key exists.
func (d *Dir) Create(ctx context.Context, key string, data []byte) error {
	dst, tmp, err := d.stage(ctx, "create", key, data)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, dst); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%w: %s in %s", ErrExists, key, d.root)
		}
		return fmt.Errorf("create %s in %s: %w", key, d.root, err)
	}
	return nil
}

// Get reads an object.
func (d *Dir) Get(ctx context.Context, key string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p, err := d.path(key)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s in %s", ErrNotFound, key, d.root)
	}
	if err != nil {
		return nil, fmt.Errorf("get %s in %s: %w", key, d.root, err)
	}
	return data, nil
}

// List walks the directory for keys under prefix, skipping temporary files.
func (d *Dir) List(ctx context.Context, prefix string) ([]string, error) {
	var keys []string
	err := filepath.WalkDir(d.root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			return nil
		}
		rel, err := filepath.Rel(d.root, p)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		if strings.HasPrefix(key, prefix) {
			keys = append(keys, key)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s in %s: %w", prefix, d.root, err)
	}
	slices.Sort(keys)
	return keys, nil
}

// Delete removes an object.
func (d *Dir) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p, err := d.path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete %s in %s: %w", key, d.root, err)
	}
	return nil
}
